"""Input and output shapes of the intake API."""

from __future__ import annotations

import json
from typing import Any

from django.core.validators import validate_email
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from leadcaller.serializers import PrototypeFieldsMixin
from leads.phones import PhoneError, phone_normalize

EXTRA_LIMIT = 8 * 1024
CONSENT_GIVEN = {"true", "1", "on", "yes"}


@extend_schema_field({"anyOf": [{"type": "boolean"}, {"type": "string"}, {"type": "integer"}], "nullable": True})
class ConsentField(serializers.Field):
    """`true`, `1`, `on` or `yes` (any case; JSON true and 1 too): given. Any other word, number, false or
    null: not given. An object or a list is no answer at all: 400."""

    default_error_messages = {"invalid": _("Send consent as one value such as true, on or yes.")}

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        if isinstance(data, (str, int, float)):
            return str(data).strip().lower() in CONSENT_GIVEN
        self.fail("invalid")

    def to_representation(self, value: Any) -> bool:
        return bool(value)


class OptionalIntegerField(serializers.IntegerField):
    """An integer, or nothing: a form's empty input counts as absent."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if isinstance(data, str) and not data.strip():
            data = None
        return super().run_validation(data)


class AmountField(serializers.DecimalField):
    """Accepts `1 500,50` as shop forms send it in Russia, as well as `1500.50`."""

    def to_internal_value(self, data: Any):
        if isinstance(data, str):
            data = data.replace("\u00a0", "").replace(" ", "")
            if "," in data and "." not in data:
                data = data.replace(",", ".")
        return super().to_internal_value(data)


class LeadInputSerializer(PrototypeFieldsMixin, serializers.Serializer):
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
    consent = ConsentField(required=False, allow_null=True, default=None, help_text=(
        "The visitor agreed to be called: `true`, `1`, `on` or `yes`; anything else, or nothing, is no consent. "
        "Required where the site or CONSENT_REQUIRED says so (else 422)."))
    consent_version = OptionalIntegerField(
        min_value=1, max_value=2**31 - 1, required=False, allow_null=True, default=None,
        help_text="The version of the site's consent text the form showed (kept in Leadcaller's admin). "
                  "Absent: the site's current text. A version the site does not have: 422.")
    consent_text = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, default="",
        help_text="The consent text itself, for a form that keeps its own; used only without consent_version.")
    page = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="",
        help_text="The address of the page the form was on, kept in the consent proof.")

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
    status_token = serializers.CharField(
        required=False, help_text="For GET /api/v1/leads/status/: this lead's state and next call, nothing else "
        "(valid STATUS_TOKEN_HOURS). Left out of a duplicate's answer unless the caller sent the site's intake key.")


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
