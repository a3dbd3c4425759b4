"""The VoxImplant client against the local fake: auth, answers, and how each failure is classified."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from telephony.voximplant import Credentials, VoximplantClient, VoximplantError, client_from_settings


@pytest.fixture
def client(vox) -> VoximplantClient:
    return client_from_settings()


def test_service_account_jwt_starts_a_scenario_and_returns_the_session(client, vox):
    started = client.start_scenarios(rule_id="1", custom_data='{"attempt_id":1}')

    assert started.session_id == vox.sessions[0].id
    request = vox.requests[-1]
    assert request.cmd == "StartScenarios" and request.headers["Authorization"].startswith("Bearer ")
    assert "api_key" not in request.params and request.params["script_custom_data"] == '{"attempt_id":1}'


def test_a_thread_keeps_one_client_for_its_settings_so_its_connections_stay_open(vox, settings):
    import threading

    first = client_from_settings()
    assert client_from_settings() is first
    elsewhere: list = []
    thread = threading.Thread(target=lambda: elsewhere.append(client_from_settings()))
    thread.start()
    thread.join()
    assert elsewhere[0] is not first  # a requests session is not shared between threads

    settings.VOXIMPLANT_API_URL = vox.url + "/"
    assert client_from_settings() is not first


def test_a_jwt_is_signed_once_a_minute_and_outlives_its_last_use_by_a_minute(client, vox):
    import time

    import jwt

    minute = int(time.time()) // 60
    client.start_scenarios(rule_id="1", custom_data="{}")
    client.start_scenarios(rule_id="1", custom_data="{}")

    first, second = (request.headers["Authorization"] for request in vox.requests[-2:])
    if int(time.time()) // 60 == minute:  # a new minute between the two would sign a new one
        assert first == second
    claims = jwt.decode(second[len("Bearer "):], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 3600 and claims["exp"] - time.time() >= 60


def test_a_key_file_replaced_on_disk_is_read_again(vox, settings):
    import os

    from telephony.voximplant import credentials_from_settings

    path = Path(settings.VOXIMPLANT_CREDENTIALS)
    assert credentials_from_settings().key_id == str(vox.key_id)
    path.write_text(json.dumps({**json.loads(path.read_text()), "key_id": "rotated"}))
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 1_000_000))  # a new version, however coarse the clock

    assert credentials_from_settings().key_id == "rotated"


def test_legacy_account_id_and_api_key_work_too(vox, settings):
    settings.VOXIMPLANT_CREDENTIALS = ""
    settings.VOXIMPLANT_ACCOUNT_ID, settings.VOXIMPLANT_API_KEY = str(vox.account_id), vox.api_key

    assert client_from_settings().start_scenarios(rule_id="1", custom_data="{}").session_id


def test_no_credentials_means_calling_is_off(settings):
    settings.VOXIMPLANT_CREDENTIALS = settings.VOXIMPLANT_ACCOUNT_ID = settings.VOXIMPLANT_API_KEY = ""

    assert client_from_settings() is None


def test_unreadable_key_file_is_a_configuration_error_naming_the_variable(settings, tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"account_id": 1}))
    settings.VOXIMPLANT_CREDENTIALS = str(tmp_path / "bad.json")

    with pytest.raises(ImproperlyConfigured, match="VOXIMPLANT_CREDENTIALS"):
        client_from_settings()


def test_a_wrong_key_is_refused_as_permanent(vox):
    other = VoximplantClient(api_url=vox.url, credentials=Credentials(account_id=str(vox.account_id),
                                                                     key_id="nope", private_key=_other_key()))
    with pytest.raises(VoximplantError) as error:
        other.start_scenarios(rule_id="1", custom_data="{}")

    assert (error.value.code, error.value.retryable, error.value.maybe_started) == (100, False, False)


def _other_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.mark.parametrize(
    ("fault", "retryable", "maybe_started"),
    [
        ("invalid", False, False),  # a wrong rule: no retry fixes it
        ("internal", True, False),  # the API refused with an error body
        ("http429", True, False),  # the concurrency limit refuses before running
        ("http5xx", True, True),  # a gateway page: we cannot know
        ("drop", True, True),  # cut after sending: we cannot know
    ],
)
def test_each_failure_says_whether_to_retry_and_whether_a_call_may_have_started(client, vox, fault, retryable,
                                                                               maybe_started):
    vox.fail_next("StartScenarios", fault)

    with pytest.raises(VoximplantError) as error:
        client.start_scenarios(rule_id="1", custom_data="{}")

    assert (error.value.retryable, error.value.maybe_started) == (retryable, maybe_started)


def test_a_slow_answer_times_out_as_maybe_started_and_the_session_did_start(client, vox, short_timeouts):
    vox.fail_next("StartScenarios", "timeout")

    with pytest.raises(VoximplantError) as error:
        client.start_scenarios(rule_id="1", custom_data='{"attempt_id":7}')

    assert error.value.maybe_started
    vox.wait_for(lambda: vox.sessions)
    found = client.call_history(since=timezone.now() - timedelta(minutes=5), until=timezone.now() + timedelta(minutes=1),
                                custom_data='{"attempt_id":7}')
    assert [s["call_session_history_id"] for s in found] == [vox.sessions[0].id]


def test_nothing_listening_is_retryable_and_certainly_not_started(vox):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    client = VoximplantClient(api_url=f"http://127.0.0.1:{port}/platform_api", credentials=Credentials("1", api_key="k"))

    with pytest.raises(VoximplantError) as error:
        client.start_scenarios(rule_id="1", custom_data="{}")

    assert (error.value.retryable, error.value.maybe_started) == (True, False)


def test_call_history_by_session_id_includes_the_calls(client, vox):
    session = client.start_scenarios(rule_id="1", custom_data="{}").session_id
    vox.set_call(session, successful=True, duration=14)

    found = client.call_history(since=timezone.now() - timedelta(minutes=5), until=timezone.now() + timedelta(minutes=1),
                                session_ids=[session])

    assert found[0]["finish_reason"] == "Normal termination"
    assert found[0]["calls"][0]["successful"] is True and found[0]["calls"][0]["duration"] == 14
