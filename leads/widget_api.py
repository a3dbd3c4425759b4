"""The callback widget's two reads (static/widget/leadcaller.js): its site's public settings, and the
state of the visitor's own lead. Neither tells anything else about a site or a lead."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from consent.selectors import consent_required, consent_text_current
from leads.models import Lead, Site
from leads.status import lead_public_state, status_token_read


class StatusThrottle(SimpleRateThrottle):
    scope = "lead-status"

    def get_rate(self) -> str | None:
        return settings.THROTTLE_STATUS

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ConfigThrottle(StatusThrottle):
    scope = "widget-config"  # page views, counted apart from a visitor's polling


class LeadStatusSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        ["waiting", "calling", "scheduled", "reached", "manual", "closed"],
        help_text="waiting: the call is about to start; calling: the phone rings now; scheduled: the next call "
                  "is at next_call_at (outside calling hours, or a retry); reached: we spoke; manual: a person "
                  "will call back; closed: no more calls.")
    next_call_at = serializers.DateTimeField(allow_null=True, help_text="When the next call is due, else null.")


class LeadStatusView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [StatusThrottle]

    @extend_schema(
        operation_id="lead_status",
        summary="The state of one's own lead (the widget)",
        parameters=[OpenApiParameter("token", str, OpenApiParameter.QUERY, required=True,
                                     description="The `status_token` from the intake's answer.")],
        responses={200: LeadStatusSerializer,
                   404: OpenApiResponse(description="No such token (wrong, expired, or its lead is gone)."),
                   429: OpenApiResponse(description="Throttled (THROTTLE_STATUS per address); see Retry-After.")},
    )
    def get(self, request: Request) -> Response:
        public_id = status_token_read(request.query_params.get("token", "")[:200])
        lead = Lead.objects.filter(public_id=public_id).first() if public_id else None
        if lead is None:
            return Response({"detail": "Unknown or expired token."}, status=404)
        state = lead_public_state(lead)
        return Response(LeadStatusSerializer({"state": state.state, "next_call_at": state.next_call_at}).data)


class WidgetConfigSerializer(serializers.Serializer):
    consent_required = serializers.BooleanField()
    consent_text = serializers.CharField(help_text="The site's current consent text (may be empty).")
    consent_version = serializers.IntegerField(allow_null=True)
    phone_region = serializers.CharField(help_text="How a number without a country code is read, e.g. RU.")
    phone_prefix = serializers.CharField(help_text="That region's calling code, e.g. +7.")
    honeypot_field = serializers.CharField()


class WidgetConfigView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [ConfigThrottle]

    @extend_schema(
        operation_id="widget_config",
        summary="A site's public settings for the callback widget",
        parameters=[OpenApiParameter("key", str, OpenApiParameter.QUERY, required=True,
                                     description="The site's public widget key (data-site-key).")],
        responses={200: WidgetConfigSerializer, 404: OpenApiResponse(description="No active site has this key."),
                   429: OpenApiResponse(description="Throttled (THROTTLE_STATUS per address); see Retry-After.")},
    )
    def get(self, request: Request) -> Response:
        key = request.query_params.get("key", "")
        site = Site.objects.filter(widget_key=key, is_active=True).first() if key.isprintable() and key else None
        if site is None:
            return Response({"detail": "Unknown widget key."}, status=404)
        text = consent_text_current(site)
        region = site.phone_region or settings.PHONE_REGION
        code = phonenumbers.country_code_for_region(region)
        response = Response(WidgetConfigSerializer({
            "consent_required": consent_required(site), "consent_text": text.text if text else "",
            "consent_version": text.version if text else None, "phone_region": region,
            "phone_prefix": f"+{code}" if code else "", "honeypot_field": settings.INTAKE_HONEYPOT_FIELD,
        }).data)
        response["Cache-Control"] = "public, max-age=60"
        return response
