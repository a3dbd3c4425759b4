"""`/api/v1/telephony/voximplant/probe-call/`: the scenario's settings (GET) and result (POST) for a test
call placed from the admin. The same shapes as the lead callback, so the scenario needs no change."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view

from telephony.api import CallbackAckSerializer, CallResultSerializer, CallSettingsSerializer, VoximplantCallbackView
from telephony.probe_calls import probe_call_result_record, probe_call_settings
from telephony.services import CallResult

_REFUSED = OpenApiResponse(description="Unknown test call or wrong token.")


@extend_schema_view(
    get=extend_schema(
        operation_id="voximplant_probe_call_settings",
        summary="Call settings for a test call placed from the admin",
        parameters=[OpenApiParameter("attempt_id", int, required=True), OpenApiParameter("token", str, required=True)],
        responses={200: CallSettingsSerializer, 400: OpenApiResponse(description="Malformed query."), 403: _REFUSED},
    ),
    post=extend_schema(
        operation_id="voximplant_probe_call_result",
        summary="A test call's result from the VoxEngine scenario",
        description="Only the first valid result counts; repeats answer 200 and change nothing.",
        request=CallResultSerializer,
        responses={200: CallbackAckSerializer, 400: OpenApiResponse(description="Malformed body."), 403: _REFUSED},
    ),
)
class ProbeCallCallbackView(VoximplantCallbackView):
    refused_detail = "Unknown test call or wrong token."

    def settings_for(self, *, attempt_id: int, token: str) -> dict:
        return probe_call_settings(attempt_id=attempt_id, token=token)

    def record(self, result: CallResult) -> str:
        return probe_call_result_record(result)
