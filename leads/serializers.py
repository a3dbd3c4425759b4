"""Input and output shapes of the intake API."""

from __future__ import annotations

import json
from typing import Any

from django.core.validators import validate_email
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from leads.phones import PhoneError, phone_normalize

EXTRA_LIMIT = 8 * 1024


class AmountField(serializers.DecimalField):
    """Accepts `1 500,50` as shop forms send it in Russia, as well as `1500.50`."""

    def to_internal_value(self, data: Any):
        if isinstance(data, str):
            data = data.replace("\u00a0", "").replace(" ", "")
            if "," in data and "." not in data:
                data = data.replace(",", ".")
        return super().to_internal_value(data)


class LeadInputSerializer(serializers.Serializer):
    """Validates one submission. The phone region comes from the context (the site's, else global)."""

    phone = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    order_amount = AmountField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True, default=None
    )
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False, allow_blank=True, default="")
    site = serializers.CharField(max_length=253, required=False, allow_blank=True, default="")
    partner = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    ref = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    utm_source = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    utm_medium = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    utm_campaign = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    utm_term = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    utm_content = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    extra = serializers.DictField(required=False, default=dict)

    def validate_phone(self, value: str) -> str:
        try:
            self.context["phone_e164"] = phone_normalize(value, region=self.context["region"])
        except PhoneError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value.strip()

    def validate_extra(self, value: dict) -> dict:
        if len(json.dumps(value, default=str)) > EXTRA_LIMIT:
            raise serializers.ValidationError(_("Too much extra data (at most 8 KB)."))
        return value

    def validated_email(self) -> tuple[str, str]:
        """(email, rejected text). A mistyped email must not cost the lead, so it is kept aside."""
        email = self.validated_data["email"].strip()
        try:
            validate_email(email) if email else None
        except DjangoValidationError:
            return "", email
        return email, ""


class LeadAcceptedSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The lead's public id.")
    status = serializers.CharField(required=False, help_text="Left out of a duplicate's answer unless the caller "
                                   "sent the site's intake key.")
    duplicate = serializers.BooleanField(help_text="True when an open lead with the same ref already existed.")


class EnvelopeOpResultSerializer(serializers.Serializer):
    proc = serializers.CharField(help_text="`ok`, or `error` for an op that was refused.")
    obj = serializers.CharField()
    ref = serializers.CharField(allow_blank=True)
    obj_id = serializers.UUIDField(required=False)
    duplicate = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False)
    errors = serializers.DictField(required=False)


class EnvelopeResultSerializer(serializers.Serializer):
    request_proc = serializers.CharField()
    ops = EnvelopeOpResultSerializer(many=True)
