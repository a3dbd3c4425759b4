"""`/api/v1/telephony/voximplant/callback/`: the VoxEngine scenario's settings (GET) and result (POST)."""

from __future__ import annotations

from django.core.validators import ProhibitNullCharactersValidator
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.validators import ProhibitSurrogateCharactersValidator
from rest_framework.views import APIView

from leadcaller.parsers import BoundedJSONParser
from leadcaller.serializers import PrototypeFieldsMixin
from telephony.models import CallAttempt
from telephony.services import (
    CallbackRefused, CallResult, call_result_record, call_settings_payload, sellers_for_attempt,
)


# Ids are 64-bit in the database; a larger number in a request is a 400, not an overflow there.
MAX_ID = 2 ** 63 - 1


class TokenField(serializers.CharField):
    """Any text up to 200 characters: a token we did not issue (with a NUL, a lone surrogate, letters
    beyond ASCII) is a wrong token, answered 403 like any other, not a malformed field."""

    def __init__(self, **kwargs):
        super().__init__(max_length=200, trim_whitespace=False, **kwargs)
        self.validators = [v for v in self.validators
                           if not isinstance(v, (ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator))]


class CallResultSerializer(PrototypeFieldsMixin, serializers.Serializer):
    attempt_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    token = TokenField()
    result = serializers.ChoiceField(choices=CallAttempt.Outcome.values)
    duration = serializers.IntegerField(min_value=0, max_value=86400, required=False, default=0)
    digits = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    call_session_history_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True,
                                                       default=None)
    detail = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    scenario_version = serializers.IntegerField(min_value=1, max_value=32767, required=False, allow_null=True,
                                                default=None, help_text="The reporting scenario's SCENARIO_VERSION.")
    version_mismatch = serializers.BooleanField(
        required=False, default=False,
        help_text="The scenario's version differs from the scenario_version of the settings answer.")
    seller_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True, default=None,
                                         help_text="Result connected: the seller who talked to the lead.")
    talk_time = serializers.IntegerField(min_value=0, max_value=86400, required=False, allow_null=True,
                                         default=None, help_text="Result connected: seconds the two were joined.")
    # Any text: a recording link we cannot keep must not cost the call's result (a 400 is final for the scenario).
    recording_url = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="",
                                          help_text="The call's recording, when the site records calls; kept when "
                                          "it is an http(s) URL of at most 500 characters.")


class CallSettingsQuerySerializer(PrototypeFieldsMixin, serializers.Serializer):
    attempt_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    token = TokenField()


class CallSettingsSerializer(serializers.Serializer):
    phone = serializers.CharField()
    caller_id = serializers.CharField()
    recording_url = serializers.CharField(allow_blank=True)
    tts_text = serializers.CharField(allow_blank=True)
    tts_voice = serializers.CharField(allow_blank=True)
    amd_model = serializers.CharField()
    amd_timeout_ms = serializers.IntegerField()
    callback_digit = serializers.CharField(allow_blank=True)
    key_wait_seconds = serializers.IntegerField()
    disclosure_url = serializers.CharField(allow_blank=True, help_text="Played first on every call; blank: "
                                           "disclosure_text is spoken instead.")
    disclosure_text = serializers.CharField(help_text="Who calls, that the call is automated, and the opt-out key.")
    opt_out_digit = serializers.CharField(help_text="The key that ends the call with the result opted_out.")
    opt_out_text = serializers.CharField(help_text="Spoken after the opt-out key, before hanging up.")
    scenario_version = serializers.IntegerField(help_text="The SCENARIO_VERSION this server expects.")
    call_mode = serializers.ChoiceField(["recording", "offer", "seller_first"], required=False,
                                        help_text="Absent: recording (a probe call).")
    seller_first_fallback = serializers.ChoiceField(["offer", "recording"], required=False)
    ring_strategy = serializers.ChoiceField(["sequential", "simultaneous"], required=False)
    seller_ring_seconds = serializers.IntegerField(required=False, help_text="How long each seller is rung.")
    seller_wait_seconds = serializers.IntegerField(required=False, help_text="The lead waits this long at most.")
    connect_digit = serializers.CharField(required=False, help_text="The key for 'a manager now' and 'connect'.")
    record_calls = serializers.BooleanField(required=False)
    sellers_url = serializers.CharField(required=False, help_text="POST here for the next seller(s).")
    offer_text = serializers.CharField(required=False)
    hold_text = serializers.CharField(required=False)
    promise_text = serializers.CharField(required=False)


class CallbackAckSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["applied", "repeat", "late"])


def validated_object(request: Request, serializer_class: type[serializers.Serializer]) -> dict:
    """The request's JSON body, validated; a body that is not an object (a list, a number) is a 400."""
    if not isinstance(request.data, dict):
        raise ParseError("Expected a JSON object.")
    body = serializer_class(data=request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data


REFUSED = "Unknown attempt or wrong token."


def refused(detail: str = REFUSED) -> Response:
    return Response({"detail": detail}, status=status.HTTP_403_FORBIDDEN)


class VoximplantCallbackView(APIView):
    """The scenario's two requests: GET its call settings, POST its result. The probe-call view
    (telephony/probe_call_api.py) answers the same shapes for a test call's own rows."""

    parser_classes = [BoundedJSONParser]
    refused_detail = REFUSED

    def settings_for(self, *, attempt_id: int, token: str) -> dict:
        return call_settings_payload(attempt_id=attempt_id, token=token)

    def record(self, result: CallResult) -> str:
        return call_result_record(result)

    @extend_schema(
        operation_id="voximplant_call_settings",
        summary="Call settings for the VoxEngine scenario",
        parameters=[OpenApiParameter("attempt_id", int, required=True), OpenApiParameter("token", str, required=True)],
        responses={200: CallSettingsSerializer, 400: OpenApiResponse(description="Malformed query."),
                   403: OpenApiResponse(description="Unknown attempt, wrong token, or an attempt that has "
                                        "finished (its settings are no longer given out).")},
    )
    def get(self, request: Request) -> Response:
        query = CallSettingsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            return Response(self.settings_for(**query.validated_data))
        except CallbackRefused:
            return refused(self.refused_detail)

    @extend_schema(
        operation_id="voximplant_call_result",
        summary="A call's result from the VoxEngine scenario",
        description="Only the first valid result of an attempt counts; repeats answer 200 and change nothing.",
        request=CallResultSerializer,
        responses={200: CallbackAckSerializer,
                   400: OpenApiResponse(description="Malformed body: not JSON, nested too deeply, over "
                                        "DATA_UPLOAD_MAX_MEMORY_SIZE, or a bad field."),
                   403: OpenApiResponse(description="Unknown attempt or wrong token.")},
    )
    def post(self, request: Request) -> Response:
        data = validated_object(request, CallResultSerializer)
        try:
            outcome = self.record(CallResult(
                attempt_id=data["attempt_id"], token=data["token"], result=data["result"], duration=data["duration"],
                digits=data["digits"], session_id=data["call_session_history_id"], detail=data["detail"],
                scenario_version=data["scenario_version"], seller_id=data["seller_id"], talk_time=data["talk_time"],
                recording_url=data["recording_url"],
            ))
        except CallbackRefused:
            return refused(self.refused_detail)
        return Response({"status": outcome})


class SellersRequestSerializer(serializers.Serializer):
    attempt_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    token = TokenField()
    missed = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), max_length=50,
                                   required=False, default=list,
                                   help_text="Sellers rung for this attempt who did not take the call.")


class SellerOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    phone = serializers.CharField()
    whisper_text = serializers.CharField(help_text="Spoken to the seller who answers, before the connect key.")


class SellersAnswerSerializer(serializers.Serializer):
    sellers = SellerOutSerializer(many=True, help_text="Empty: no seller is free now.")


class VoximplantSellersView(APIView):
    """The scenario asks for the next seller(s) to ring for its attempt; the routing is decided here."""

    parser_classes = [BoundedJSONParser]

    @extend_schema(
        operation_id="voximplant_next_sellers",
        summary="The next seller(s) for a call attempt",
        request=SellersRequestSerializer,
        responses={200: SellersAnswerSerializer, 400: OpenApiResponse(description="Malformed body."),
                   403: OpenApiResponse(description="Unknown attempt, wrong token, or an attempt that has ended.")},
    )
    def post(self, request: Request) -> Response:
        data = validated_object(request, SellersRequestSerializer)
        try:
            sellers = sellers_for_attempt(attempt_id=data["attempt_id"], token=data["token"], missed=data["missed"])
        except CallbackRefused:
            return refused()
        return Response({"sellers": sellers})
