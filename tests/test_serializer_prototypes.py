"""Serializers whose fields are shallow copies of per-class prototypes (leadcaller/serializers.py)
validate exactly as DRF's own deep copies do."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from leadcaller.serializers import PrototypeFieldsMixin
from leads.serializers import LeadInputSerializer
from telephony.api import CallResultSerializer


class PlainLeadInput(LeadInputSerializer):
    """LeadInputSerializer with DRF's own get_fields (a deep copy per instance)."""

    def get_fields(self):
        return serializers.Serializer.get_fields(self)


class PlainCallResult(CallResultSerializer):
    def get_fields(self):
        return serializers.Serializer.get_fields(self)


LEAD_BODIES = [
    {"phone": "+7 912 000-11-22", "name": " Anna ", "order_amount": "1 500,50", "extra": {"a": 1}, "consent": "yes"},
    {"phone": "8 (912) 000 11 22", "currency": "rub", "consent_version": "", "utm_source": "ya"},
    {"phone": "12", "currency": "rubles", "order_amount": "-1", "consent": {"x": 1}, "consent_version": 0},
    {"name": "x" * 201, "extra": [1, 2], "email": "not an email"},
    {"phone": None, "page": "x" * 2001, "ref": ["a"]},
    {},
]


@pytest.mark.parametrize("body", LEAD_BODIES)
def test_the_intake_body_validates_as_with_drfs_own_fields(body):
    ours, plain = (cls(data=body, context={"region": "RU"}) for cls in (LeadInputSerializer, PlainLeadInput))

    assert ours.is_valid() == plain.is_valid()
    assert ours.errors == plain.errors
    if not ours.errors:
        assert ours.validated_data == plain.validated_data
        assert ours.context["phone_e164"] == plain.context["phone_e164"]  # a field's validation wrote its context


@pytest.mark.parametrize("body", [
    {"attempt_id": 5, "token": "t" * 40, "result": "human", "duration": "12", "digits": "1"},
    {"attempt_id": 0, "token": "", "result": "nonsense", "duration": -1, "talk_time": "x"},
    {"attempt_id": "5", "token": "t\x00", "result": "busy", "recording_url": "y" * 2001},
])
def test_the_call_result_validates_as_with_drfs_own_fields(body):
    ours, plain = CallResultSerializer(data=body), PlainCallResult(data=body)

    assert ours.is_valid() == plain.is_valid()
    assert ours.errors == plain.errors
    assert (ours.validated_data if not ours.errors else None) == (plain.validated_data if not plain.errors else None)


def test_each_serializer_binds_fields_of_its_own_and_leaves_the_prototypes_unbound():
    first, second = LeadInputSerializer(data={}), LeadInputSerializer(data={})

    assert first.fields["phone"] is not second.fields["phone"]
    assert first.fields["phone"].parent is first and second.fields["phone"].parent is second
    prototype = PrototypeFieldsMixin._prototypes[LeadInputSerializer]["phone"]
    assert (prototype.parent, prototype.field_name, prototype.source) == (None, None, None)


def test_a_field_with_a_child_is_copied_whole():
    first, second = LeadInputSerializer(data={}), LeadInputSerializer(data={})

    assert first.fields["extra"].child is not second.fields["extra"].child
    assert first.fields["extra"].child.parent is first.fields["extra"]
