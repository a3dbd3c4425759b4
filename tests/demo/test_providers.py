"""make run's choice per provider: credentials present -> the real service, untouched; absent -> the
simulator, with the clients' variables pointed at it; and what the console says about it."""

from __future__ import annotations

import json
import stat
from types import SimpleNamespace

from demo import launcher, providers
from tests.conftest import ROOT

NONE = dict(BITRIX_WEBHOOK_URL="", BITRIX_PORTAL_URL="", VOXIMPLANT_CREDENTIALS="", VOXIMPLANT_ACCOUNT_ID="",
            VOXIMPLANT_API_KEY="", VOXIMPLANT_RULE_ID="", VOXIMPLANT_CALLER_ID="", VOXIMPLANT_CALLBACK_SECRET="",
            VOXIMPLANT_API_URL="https://api.voximplant.com/platform_api", TELEGRAM_API_URL="https://api.telegram.org",
            TELEGRAM_BOT_TOKEN="", TELEGRAM_CHAT_ID="", TELEGRAM_ALERT_CHAT_ID="")


def config(**values: str) -> SimpleNamespace:
    return SimpleNamespace(**{**NONE, **values})


def test_without_any_credentials_every_provider_is_simulated():
    assert providers.simulated(config()) == ["bitrix24", "voximplant", "telegram"]


def test_a_provider_with_credentials_is_real_and_the_others_simulated():
    assert providers.simulated(config(BITRIX_WEBHOOK_URL="https://shop.bitrix24.ru/rest/1/secret/")) == [
        "voximplant", "telegram"]
    assert providers.simulated(config(BITRIX_PORTAL_URL="https://shop.bitrix24.ru/")) == ["voximplant", "telegram"]
    assert providers.simulated(config(VOXIMPLANT_CREDENTIALS="/etc/vox.json")) == ["bitrix24", "telegram"]
    assert providers.simulated(config(VOXIMPLANT_ACCOUNT_ID="1", VOXIMPLANT_API_KEY="k")) == ["bitrix24", "telegram"]
    assert providers.simulated(config(TELEGRAM_BOT_TOKEN="1:AA")) == ["bitrix24", "voximplant"]


def test_an_account_id_without_its_api_key_is_not_credentials():
    assert "voximplant" in providers.simulated(config(VOXIMPLANT_ACCOUNT_ID="1"))


def test_real_providers_keep_their_urls_and_simulated_ones_are_pointed_at_the_simulators(tmp_path):
    real = config(BITRIX_WEBHOOK_URL="https://shop.bitrix24.ru/rest/1/secret/", TELEGRAM_BOT_TOKEN="1:AA",
                  TELEGRAM_CHAT_ID="-100777")
    env, picked, state_url = launcher.prepare(real, {"PATH": "/bin"}, tmp_path, port=8123)

    assert "BITRIX_WEBHOOK_URL" not in env and "TELEGRAM_API_URL" not in env and "TELEGRAM_BOT_TOKEN" not in env
    assert env["VOXIMPLANT_API_URL"].startswith("http://127.0.0.1:") and env["VOXIMPLANT_API_URL"].endswith(
        "/platform_api")
    assert env["VOXIMPLANT_RULE_ID"] == "1" and env["VOXIMPLANT_CALLBACK_SECRET"]
    assert env["DEMO_SIMULATORS_URL"] == state_url and state_url.endswith("/state.json")
    assert env["PUBLIC_BASE_URL"] == "http://localhost:8123"
    assert [(c.provider, c.simulated) for c in picked] == [("bitrix24", False), ("voximplant", True),
                                                           ("telegram", False)]
    simulators = json.loads((tmp_path / "simulators.json").read_text())
    assert set(simulators) == {"state_port", "voximplant"}


def test_simulated_clients_get_demo_credentials_that_the_simulators_accept(tmp_path):
    env, _, _ = launcher.prepare(config(TELEGRAM_CHAT_ID="-100555"), {}, tmp_path, port=8000)

    assert env["BITRIX_WEBHOOK_URL"].startswith("http://127.0.0.1:") and "/rest/1/" in env["BITRIX_WEBHOOK_URL"]
    assert env["TELEGRAM_API_URL"].startswith("http://127.0.0.1:") and ":" in env["TELEGRAM_BOT_TOKEN"]
    assert env["TELEGRAM_CHAT_ID"] == "-100555"  # the user's chat id is kept, and the simulator knows it
    simulators = json.loads((tmp_path / "simulators.json").read_text())
    assert simulators["telegram"]["token"] == env["TELEGRAM_BOT_TOKEN"]
    assert simulators["telegram"]["chats"] == ["-100555"]
    assert env["BITRIX_WEBHOOK_URL"].endswith(f"/rest/1/{simulators['bitrix24']['webhook_code']}/")
    key = json.loads((tmp_path / "voximplant-credentials.json").read_text())
    assert env["VOXIMPLANT_CREDENTIALS"] == str(tmp_path / "voximplant-credentials.json")
    assert key["private_key"].startswith("-----BEGIN PRIVATE KEY-----") and key["key_id"]
    for secret in ("voximplant-credentials.json", "simulators.json", "callback_secret"):
        assert stat.S_IMODE((tmp_path / secret).stat().st_mode) == 0o600


def test_the_callback_secret_is_kept_across_runs(tmp_path):
    first, _, _ = launcher.prepare(config(), {}, tmp_path, port=8000)
    second, _, _ = launcher.prepare(config(), {}, tmp_path, port=8000)

    assert first["VOXIMPLANT_CALLBACK_SECRET"] == second["VOXIMPLANT_CALLBACK_SECRET"]


def test_simulated_calls_are_made_all_day_unless_calling_hours_are_set(tmp_path):
    env, picked, _ = launcher.prepare(config(), {}, tmp_path, port=8000)
    assert env["CALLING_HOURS"] == providers.DEMO_CALLING_HOURS
    assert "at any hour" in launcher.banner(8000, picked, True, calling_hours=env["CALLING_HOURS"])

    kept, _, _ = launcher.prepare(config(), {"CALLING_HOURS": "mon-fri 10:00-18:00"}, tmp_path, port=8000)
    assert kept["CALLING_HOURS"] == "mon-fri 10:00-18:00"

    real, _, _ = launcher.prepare(config(VOXIMPLANT_CREDENTIALS="/etc/vox.json"), {}, tmp_path, port=8000)
    assert "CALLING_HOURS" not in real  # real calls keep the product's hours


def test_simulated_calls_ignore_the_leads_local_hours_and_holidays_unless_those_are_set(tmp_path):
    env, _, _ = launcher.prepare(config(), {}, tmp_path, port=8000)
    assert (env["LEAD_LOCAL_HOURS"], env["SKIP_HOLIDAYS"]) == ("00:00-24:00", "false")

    kept, _, _ = launcher.prepare(config(), {"LEAD_LOCAL_HOURS": "09:00-20:00"}, tmp_path, port=8000)
    assert kept["LEAD_LOCAL_HOURS"] == "09:00-20:00"

    real, _, _ = launcher.prepare(config(VOXIMPLANT_CREDENTIALS="/etc/vox.json"), {}, tmp_path, port=8000)
    assert "LEAD_LOCAL_HOURS" not in real and "SKIP_HOLIDAYS" not in real


def test_with_every_credential_nothing_is_simulated(tmp_path):
    everything = config(BITRIX_WEBHOOK_URL="https://shop.bitrix24.ru/rest/1/secret/", VOXIMPLANT_CREDENTIALS="/k",
                        VOXIMPLANT_RULE_ID="5", TELEGRAM_BOT_TOKEN="1:AA", TELEGRAM_CHAT_ID="-1")
    env, picked, state_url = launcher.prepare(everything, {"PUBLIC_BASE_URL": "https://calls.example"}, tmp_path,
                                              port=8000)

    assert state_url is None and "DEMO_SIMULATORS_URL" not in env
    assert env["PUBLIC_BASE_URL"] == "https://calls.example"
    assert not any(c.simulated for c in picked)
    assert "/demo/" not in launcher.banner(8000, picked, False, calling_hours=None)


def test_console_lines_say_which_provider_is_simulated_and_why():
    urls = providers.simulator_urls({"bitrix24": 40001, "telegram": 40003}, webhook_code="c0de")
    lines = providers.console_lines(providers.choices(config(VOXIMPLANT_CREDENTIALS="/k", VOXIMPLANT_RULE_ID="7"),
                                                      urls))

    assert lines == [
        "Bitrix24    simulator at http://127.0.0.1:40001  (no BITRIX_WEBHOOK_URL or BITRIX_PORTAL_URL + OAuth settings)",
        "VoxImplant  real: https://api.voximplant.com/platform_api",
        "Telegram    simulator at http://127.0.0.1:40003  (no TELEGRAM_BOT_TOKEN)",
    ]


def test_console_never_prints_the_webhook_secret_or_the_bot_token():
    picked = providers.choices(config(BITRIX_WEBHOOK_URL="https://shop.bitrix24.ru/rest/1/s3cr3tc0de/",
                                      TELEGRAM_BOT_TOKEN="123:AAsecret", TELEGRAM_CHAT_ID="-1"), {})
    text = "\n".join(providers.console_lines(picked))

    assert "Bitrix24    real: https://shop.bitrix24.ru  (inbound webhook)" in text
    assert "s3cr3tc0de" not in text and "AAsecret" not in text


def test_console_warns_when_real_voximplant_has_no_rule():
    lines = providers.console_lines(providers.choices(config(VOXIMPLANT_CREDENTIALS="/k"), {}))

    assert "VOXIMPLANT_RULE_ID not set" in lines[1]


def test_the_demo_procfile_runs_each_procfile_line_and_the_simulators_under_the_keepalive_guard(tmp_path):
    import shlex

    path = launcher.write_procfile(tmp_path, simulators=True)
    guarded = [shlex.split(line.split(": ", 1)[1]) for line in path.read_text().splitlines()]

    originals = [line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    assert [args[:4] for args in guarded] == [["python", "-m", "demo.keepalive", name]
                                              for name in [name for name, _ in originals] + ["simulators"]]
    assert [args[4] for args in guarded[:-1]] == [command for _, command in originals]  # unchanged, ${PORT} too
    assert guarded[-1][4].startswith("python -m demo.simulators ")
    assert len(launcher.write_procfile(tmp_path, simulators=False).read_text().splitlines()) == len(originals)
