"""Which provider `make run` simulates, and the environment that points the production clients at
the simulators. A provider is simulated exactly when its credentials are missing from the
environment and `.env`; with credentials the real service is used and nothing is changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

PROVIDERS = ("bitrix24", "voximplant", "telegram")
TITLES = {"bitrix24": "Bitrix24", "voximplant": "VoxImplant", "telegram": "Telegram"}
MISSING = {
    "bitrix24": "no BITRIX_WEBHOOK_URL or BITRIX_PORTAL_URL + OAuth settings",
    "voximplant": "no VOXIMPLANT_CREDENTIALS or VOXIMPLANT_ACCOUNT_ID + VOXIMPLANT_API_KEY",
    "telegram": "no TELEGRAM_BOT_TOKEN",
}
# Simulated calls are made at any hour (in the site's zone and in the lead's, holidays too): nobody's
# phone rings, and a newcomer trying the demo at night sees the whole flow instead of a lead
# scheduled for the morning.
DEMO_CALLING_HOURS = "mon-sun 00:00-24:00"
DEMO_HOURS = {"CALLING_HOURS": DEMO_CALLING_HOURS, "LEAD_LOCAL_HOURS": "00:00-24:00", "SKIP_HOLIDAYS": "false"}
DEMO_RULE_ID = "1"
DEMO_CALLER_ID = "74950000000"
DEMO_CHAT_ID = "-1001000000001"
DEMO_WEBHOOK_USER = 1


@dataclass(frozen=True)
class Choice:
    provider: str
    simulated: bool
    where: str  # the simulator's URL, or the real service's address (never a secret)
    note: str = ""


def has_credentials(provider: str, config: Any) -> bool:
    """`config` is django.conf.settings or anything with the same attribute names."""
    if provider == "bitrix24":
        return bool(config.BITRIX_WEBHOOK_URL or config.BITRIX_PORTAL_URL)
    if provider == "voximplant":
        return bool(config.VOXIMPLANT_CREDENTIALS or (config.VOXIMPLANT_ACCOUNT_ID and config.VOXIMPLANT_API_KEY))
    if provider == "telegram":
        return bool(config.TELEGRAM_BOT_TOKEN)
    raise ValueError(f"unknown provider {provider!r}")


def simulated(config: Any) -> list[str]:
    return [p for p in PROVIDERS if not has_credentials(p, config)]


def real_address(provider: str, config: Any) -> tuple[str, str]:
    """(address, note) of the real service in use. A webhook URL carries its secret: only its host is shown."""
    if provider == "bitrix24":
        if config.BITRIX_WEBHOOK_URL:
            return _origin(config.BITRIX_WEBHOOK_URL), "inbound webhook"
        return _origin(config.BITRIX_PORTAL_URL), "OAuth application"
    if provider == "voximplant":
        note = "" if config.VOXIMPLANT_RULE_ID else "VOXIMPLANT_RULE_ID not set: calls go to manual handling"
        return config.VOXIMPLANT_API_URL, note
    return config.TELEGRAM_API_URL, "" if config.TELEGRAM_CHAT_ID else "TELEGRAM_CHAT_ID not set"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def simulator_urls(ports: Mapping[str, int], *, webhook_code: str) -> dict[str, str]:
    """What each client is pointed at: the value of its `*_URL` variable."""
    urls = {}
    if "bitrix24" in ports:
        urls["bitrix24"] = f"http://127.0.0.1:{ports['bitrix24']}/rest/{DEMO_WEBHOOK_USER}/{webhook_code}/"
    if "voximplant" in ports:
        urls["voximplant"] = f"http://127.0.0.1:{ports['voximplant']}/platform_api"
    if "telegram" in ports:
        urls["telegram"] = f"http://127.0.0.1:{ports['telegram']}"
    return urls


def choices(config: Any, urls: Mapping[str, str]) -> list[Choice]:
    result = []
    for provider in PROVIDERS:
        if provider in urls:
            shown = _origin(urls[provider])
            result.append(Choice(provider, True, shown, MISSING[provider]))
        else:
            result.append(Choice(provider, False, *real_address(provider, config)))
    return result


def console_lines(picked: list[Choice]) -> list[str]:
    """One line per provider, e.g. `Bitrix24    simulator at http://127.0.0.1:40123  (no BITRIX_WEBHOOK_URL ...)`."""
    lines = []
    for choice in picked:
        kind = f"simulator at {choice.where}" if choice.simulated else f"real: {choice.where}"
        note = f"  ({choice.note})" if choice.note else ""
        lines.append(f"{TITLES[choice.provider]:<11} {kind}{note}")
    return lines


def simulator_environment(config: Any, environ: Mapping[str, str], urls: Mapping[str, str], *,
                          credentials_path: str, callback_secret: str, telegram_token: str) -> dict[str, str]:
    """The variables that point each simulated provider's client at its simulator (with demo-only
    credentials). `environ` is the environment after `.env` was read: what the user set is kept
    where it does not name a real provider (a chat id, a caller id, a callback secret, calling hours)."""
    env: dict[str, str] = {}
    if "bitrix24" in urls:
        env["BITRIX_WEBHOOK_URL"] = urls["bitrix24"]
    if "voximplant" in urls:
        env.update(VOXIMPLANT_API_URL=urls["voximplant"], VOXIMPLANT_CREDENTIALS=credentials_path,
                   VOXIMPLANT_RULE_ID=DEMO_RULE_ID,
                   VOXIMPLANT_CALLER_ID=config.VOXIMPLANT_CALLER_ID or DEMO_CALLER_ID,
                   VOXIMPLANT_CALLBACK_SECRET=config.VOXIMPLANT_CALLBACK_SECRET or callback_secret)
        env.update({name: value for name, value in DEMO_HOURS.items() if not environ.get(name)})
    if "telegram" in urls:
        env.update(TELEGRAM_API_URL=urls["telegram"], TELEGRAM_BOT_TOKEN=telegram_token,
                   TELEGRAM_CHAT_ID=config.TELEGRAM_CHAT_ID or DEMO_CHAT_ID)
    return env


def telegram_chats(config: Any) -> list[str]:
    """The chats the Telegram simulator knows: the configured ones, else the demo chat."""
    return list(dict.fromkeys(c for c in (config.TELEGRAM_CHAT_ID or DEMO_CHAT_ID, config.TELEGRAM_ALERT_CHAT_ID) if c))
