"""`/api/v1/dnc/`: check, add and remove numbers on the do-not-call list, for staff with the permission.

Not the public intake: a request authenticates with a user's token (`Authorization: Token <key>`,
keys made in the admin or with `manage.py drf_create_token`) or the admin's session, and the user must
be staff and hold the entry permission of the action (view, add, delete). Numbers travel in the body,
never in the URL, so they stay out of access logs. Bad input is a 400 that changes nothing.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dnc.models import Entry
from dnc.services import dnc_add, dnc_entries, dnc_remove
from leadcaller.parsers import BoundedJSONParser
from leads.models import Partner, Site
from leads.phones import PhoneError, phone_normalize
from leads.selectors import host_normalize


class PhoneField(serializers.CharField):
    """A phone number as people write it; numbers without a country code are read as PHONE_REGION's."""

    def __init__(self, **kwargs):
        super().__init__(max_length=64, help_text="A phone number; without a country code it is read as "
                         "PHONE_REGION's. Answered in E.164.", **kwargs)

    def to_internal_value(self, data) -> str:
        text = super().to_internal_value(data)
        self.run_validators(text)  # as typed: its length, no NUL, no lone surrogate
        try:
            return phone_normalize(text, region=settings.PHONE_REGION)
        except PhoneError as exc:
            raise serializers.ValidationError(str(exc)) from None


class TargetSerializer(serializers.Serializer):
    phone = PhoneField()
    site = serializers.CharField(required=False, max_length=253,
                                 help_text="A site's domain: only this site's leads are concerned.")
    partner = serializers.CharField(required=False, max_length=64,
                                    help_text="A partner's code: only this partner's leads are concerned.")

    def validate_site(self, value: str) -> Site:
        site = Site.objects.filter(domain=host_normalize(value)).first()
        if site is None:
            raise serializers.ValidationError("No site has this domain.")
        return site

    def validate_partner(self, value: str) -> Partner:
        partner = Partner.objects.filter(code=value.strip()).first()
        if partner is None:
            raise serializers.ValidationError("No partner has this code.")
        return partner

    def validate(self, attrs: dict) -> dict:
        if "site" in attrs and "partner" in attrs:
            raise serializers.ValidationError("Give a site or a partner, not both.")
        return attrs


class ChangeSerializer(TargetSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class EntrySerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="domain", read_only=True)
    partner = serializers.SlugRelatedField(slug_field="code", read_only=True)
    phone = serializers.CharField(help_text="Empty when the person's data was erased (the hash still matches).")

    class Meta:
        model = Entry
        fields = ["id", "phone", "scope", "site", "partner", "source", "reason", "added_at", "added_by_name"]


class CheckResultSerializer(serializers.Serializer):
    phone = serializers.CharField()
    listed = serializers.BooleanField(help_text="True when an entry stops calls to this number (for the site or "
                                                "partner given, else anywhere).")
    entries = EntrySerializer(many=True)


class AddResultSerializer(serializers.Serializer):
    created = serializers.BooleanField(help_text="False: the number was listed for this scope already.")
    entry = EntrySerializer()


class RemoveResultSerializer(serializers.Serializer):
    removed = serializers.IntegerField(help_text="Entries taken off the list (kept as history).")


class DncPermission(BasePermission):
    """Active staff holding the view's permission."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff
                    and user.has_perm(view.required_permission))


_ERRORS = {400: OpenApiResponse(description="Malformed body, a phone that is no number, an unknown site or "
                                "partner, or both; nothing is changed."),
           401: OpenApiResponse(description="No credentials, or a wrong token."),
           403: OpenApiResponse(description="Not staff, or without the permission; or no CSRF token with a "
                                "session.")}


_EXAMPLES = [OpenApiExample("every site", value={"phone": "+7 912 111-22-33", "reason": "asked by phone"},
                            request_only=True),
             OpenApiExample("one site", value={"phone": "89121112233", "site": "shop.example"}, request_only=True)]


class DncView(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [DncPermission]
    parser_classes = [BoundedJSONParser]
    required_permission = ""
    input_class: type[TargetSerializer] = TargetSerializer

    def valid_input(self, request: Request) -> dict:
        body = self.input_class(data=request.data)  # anything but a JSON object is a 400 there too
        body.is_valid(raise_exception=True)
        return body.validated_data


class DncCheckView(DncView):
    required_permission = "dnc.view_entry"

    @extend_schema(operation_id="dnc_check", summary="Is a number on the do-not-call list?", request=TargetSerializer,
                   responses={200: CheckResultSerializer, **_ERRORS}, examples=_EXAMPLES)
    def post(self, request: Request) -> Response:
        data = self.valid_input(request)
        entries = list(dnc_entries(phone=data["phone"], site=data.get("site"), partner=data.get("partner")))
        return Response({"phone": data["phone"], "listed": bool(entries),
                         "entries": EntrySerializer(entries, many=True).data})


class DncAddView(DncView):
    required_permission = "dnc.add_entry"
    input_class = ChangeSerializer

    @extend_schema(operation_id="dnc_add", summary="Put a number on the do-not-call list", request=ChangeSerializer,
                   responses={201: AddResultSerializer, 200: AddResultSerializer, **_ERRORS}, examples=_EXAMPLES)
    def post(self, request: Request) -> Response:
        data = self.valid_input(request)
        entry, created = dnc_add(phone=data["phone"], source=Entry.Source.API, site=data.get("site"),
                                 partner=data.get("partner"), reason=data["reason"], user=request.user)
        return Response({"created": created, "entry": EntrySerializer(entry).data},
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class DncRemoveView(DncView):
    required_permission = "dnc.delete_entry"
    input_class = ChangeSerializer

    @extend_schema(operation_id="dnc_remove", summary="Take a number off the do-not-call list",
                   description="Only the entry of exactly this scope (every site, the site, or the partner) is "
                               "removed; it is kept as history with who removed it, when and why.",
                   request=ChangeSerializer, responses={200: RemoveResultSerializer, **_ERRORS}, examples=_EXAMPLES)
    def post(self, request: Request) -> Response:
        data = self.valid_input(request)
        removed = dnc_remove(phone=data["phone"], site=data.get("site"), partner=data.get("partner"),
                             reason=data["reason"], user=request.user)
        return Response({"removed": removed})
