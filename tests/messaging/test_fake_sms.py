"""The fake's A2P messaging is as strict as VoxImplant's (demo/fakes/voximplant_sms.py names the references)."""

from __future__ import annotations

import pytest

from demo.fakes.voximplant_params import ApiError
from demo.fakes.voximplant_sms import SmsCenter, fragments


@pytest.mark.parametrize("params", [
    {"dst_numbers": "79161234567", "text": "hi"},
    {"src_number": "LEADCALLER", "text": "hi"},
    {"src_number": "LEADCALLER", "dst_numbers": "79161234567", "text": ""},
    {"src_number": "LEADCALLER", "dst_numbers": "79161234567", "text": "x" * 1601},
])
def test_a_send_without_a_required_parameter_or_with_too_long_a_text_is_invalid_arguments(params):
    with pytest.raises(ApiError) as refused:
        SmsCenter().send(params)
    assert refused.value.code == 101


def test_each_destination_is_sent_or_listed_as_failed_with_385():
    center = SmsCenter()
    answer = center.send({"src_number": "LEADCALLER", "dst_numbers": "79161234567;12", "text": "hi"})

    assert [r["destination_number"] for r in answer["result"]] == ["79161234567"]
    assert answer["failed"] == [{"destination_number": "12", "error_description": "SMS failed to send.",
                                 "error_code": 385}]


def test_parts_follow_the_gsm7_and_utf16_limits():
    assert [fragments("a" * 160), fragments("a" * 161), fragments("я" * 70), fragments("я" * 71)] == [1, 2, 1, 2]


def test_history_filters_and_pages_as_the_api_does():
    center = SmsCenter()
    center.outcome["79160000002"] = "REJECTED"
    for number in ("79160000001", "79160000002"):
        center.send({"src_number": "LEADCALLER", "dst_numbers": number, "text": "hi"})

    rejected = center.history({"delivery_status": "4"})["result"]
    assert [(r["destination_number"], r["delivery_status"]) for r in rejected] == [(79160000002, "REJECTED")]
    assert center.history({"destination_number": "79160000001"})["total_count"] == 1
    for bad in ({"count": "1001"}, {"delivery_status": "9"}, {"from_date": "2026-12-04T10:00:00"}):
        with pytest.raises(ApiError):
            center.history(bad)
