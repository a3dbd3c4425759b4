"""`/api/v1/telephony/voximplant/probe-call/`: the scenario's settings (GET) and result (POST) for a test
call placed from the admin. The same shapes as the lead callback, so the scenario needs no change."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from telephony.api import CallbackAckSerializer, CallResultSerializer, CallSettingsQuerySerializer, CallSettingsSerializer
from telephony.probe_calls import probe_call_result_record, probe_call_settings
from telephony.services import CallbackRefused


class ProbeCallResultSerializer(CallResultSerializer):
    scenario_version = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False, allow_null=True,
                                                default=None)


class ProbeCallSettingsSerializer(CallSettingsSerializer):
    scenario_version = serializers.IntegerField()


_REFUSED = Response({"detail": "Unknown test call or wrong token."}, status=status.HTTP_403_FORBIDDEN)


class ProbeCallCallbackView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="voximplant_probe_call_settings",
        summary="Call settings for a test call placed from the admin",
        parameters=[OpenApiParameter("attempt_id", int, required=True), OpenApiParameter("token", str, required=True)],
        responses={200: ProbeCallSettingsSerializer, 400: OpenApiResponse(description="Malformed query."),
                   403: OpenApiResponse(description="Unknown test call or wrong token.")},
    )
    def get(self, request: Request) -> Response:
        query = CallSettingsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            return Response(probe_call_settings(**query.validated_data))
        except CallbackRefused:
            return _REFUSED

    @extend_schema(
        operation_id="voximplant_probe_call_result",
        summary="A test call's result from the VoxEngine scenario",
        description="Only the first valid result counts; repeats answer 200 and change nothing.",
        request=ProbeCallResultSerializer,
        responses={200: CallbackAckSerializer, 400: OpenApiResponse(description="Malformed body."),
                   403: OpenApiResponse(description="Unknown test call or wrong token.")},
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            return Response({"detail": "Expected a JSON object."}, status=status.HTTP_400_BAD_REQUEST)
        body = ProbeCallResultSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            outcome = probe_call_result_record(
                attempt_id=data["attempt_id"], token=data["token"], result=data["result"], duration=data["duration"],
                digits=data["digits"], session_id=data["call_session_history_id"], detail=data["detail"],
                reported_version=data["scenario_version"])
        except CallbackRefused:
            return _REFUSED
        return Response({"status": outcome})
