"""`POST /api/v1/leads/`: intake from web forms and from the Corezoid task envelope."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import (
    OpenApiExample, OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema,
)
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from leadcaller import metrics
from leadcaller.parsers import BoundedJSONParser
from leads.builders import builder_detect, builder_read, submission_key
from leads.intake import Accepted, Rejected, submission_accept
from leads.intake_input import (
    EnvelopeError, Peer, Submission, envelope_submissions, is_envelope, ops_count, raw_capture, split_fields,
)
from leads.models import IntakeCounter
from leads.parsers import FormOrJsonParser
from leads.selectors import site_by_key
from leads.serializers import EnvelopeResultSerializer, LeadAcceptedSerializer, LeadInputSerializer
from leads.services import intake_count
from leads.status import status_token_make
from leads.throttles import IntakeIPThrottle, IntakeSiteThrottle

_RAW_HEADERS = ("Origin", "Referer", "User-Agent", "X-Forwarded-For", "X-Request-ID")


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class TooManyOps(PayloadTooLarge):
    default_detail = "Too many leads in one request."


# "Try it out" on /api/docs/ posts this as it is: no `site`, so the site is the page's own origin (the demo
# shop under `make run`; else UNKNOWN_SITES decides). A second try is a duplicate (200): change the phone.
_EXAMPLE = {"phone": "+7 912 345-67-89", "name": "Anna", "email": "anna@example.com", "order_amount": "1500.50",
            "currency": "RUB", "comment": "Call after 6 pm", "utm_source": "newsletter"}
INTAKE_EXAMPLES = [
    OpenApiExample("A form's lead", request_only=True, value={**_EXAMPLE, "consent": True}),
    *[OpenApiExample("A form's lead", request_only=True, media_type=media_type, value={**_EXAMPLE, "consent": "yes"})
      for media_type in ("application/x-www-form-urlencoded", "multipart/form-data")],
]


class LeadIntakeView(APIView):
    parser_classes = [BoundedJSONParser, FormOrJsonParser, MultiPartParser]
    throttle_classes = [IntakeIPThrottle, IntakeSiteThrottle]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.INTAKE_MAX_BYTES:
            raise PayloadTooLarge(f"The request body is over {settings.INTAKE_MAX_BYTES} bytes.")
        key = request.headers.get("X-Leadcaller-Key") or request.query_params.get("key", "")
        request.keyed_site = site_by_key(key) if key else None
        if key and request.keyed_site is None:
            raise PermissionDenied("Wrong intake key.")
        # Each lead of an envelope counts against the throttles like a post of its own.
        request.intake_weight = ops_count(request.data)
        if request.intake_weight > settings.INTAKE_MAX_OPS:
            intake_count(kind=IntakeCounter.Kind.TOO_MANY_OPS, site=request.keyed_site)
            raise TooManyOps(f"At most {settings.INTAKE_MAX_OPS} leads (ops) in one request.")
        super().initial(request, *args, **kwargs)

    def check_throttles(self, request: Request) -> None:
        for throttle in self.get_throttles():
            if not throttle.allow_request(request, self):
                intake_count(kind=throttle.counter_kind, site=request.keyed_site)
                self.throttled(request, throttle.wait())

    def handle_exception(self, exc: Exception) -> Response:
        # Refused before a submission was read: wrong key, too large, content type, throttles.
        response = super().handle_exception(exc)
        metrics.intake_refused(response.status_code)
        if isinstance(exc, TooManyOps):  # a Corezoid client reads errors in its own shape
            response.data = {"request_proc": "error", "description": str(exc.detail)}
        return response

    @extend_schema(
        operation_id="lead_create",
        summary="Submit a lead",
        description=(
            "Accepts JSON, form-encoded or multipart fields, or a Corezoid task envelope "
            "(`{\"ops\": [...]}`, at most INTAKE_MAX_OPS ops), which is answered in Corezoid's shape; each op "
            "counts against the throttles like a request of its own. A second submission with the ref of a "
            "lead still in progress is answered 200 with that lead's id and `duplicate: true` (and its status "
            "only to a caller with the site's intake key). With `consent` true, the proof (time, address, browser, page, "
            "the text shown) is kept with the lead and never edited. A new lead's answer carries `status_token` for "
            "GET /api/v1/leads/status/. Form builders' webhooks (Tilda, Elementor Pro, Contact Form 7, or any "
            "builder through the site's field mapping; docs/forms.md) post here with `?key=`: they are answered "
            "200 (Tilda: the text `ok`), Tilda's `test=test` stores nothing, and a builder's submission id "
            "(Tilda's `tranid`) answers a repeat with the first lead."
        ),
        request={
            "application/json": LeadInputSerializer,
            "application/x-www-form-urlencoded": LeadInputSerializer,
            "multipart/form-data": LeadInputSerializer,
        },
        parameters=[
            OpenApiParameter("X-Leadcaller-Key", str, OpenApiParameter.HEADER, required=False,
                             description="The site's intake key, for server-to-server posts."),
            OpenApiParameter("key", str, OpenApiParameter.QUERY, required=False,
                             description="The site's intake key, when a header cannot be set."),
            OpenApiParameter("source", str, OpenApiParameter.QUERY, required=False,
                             enum=["tilda", "elementor", "cf7", "generic"],
                             description="A form builder's shape, named outright (else recognised)."),
        ],
        responses={
            201: LeadAcceptedSerializer,
            200: OpenApiResponse(
                PolymorphicProxySerializer(component_name="LeadAcceptedOrEnvelope", resource_type_field_name=None,
                                           serializers=[LeadAcceptedSerializer, EnvelopeResultSerializer]),
                description="Duplicate (LeadAccepted), or a Corezoid envelope answer (EnvelopeResult)."),
            400: OpenApiResponse(description="Invalid input (a message per field), or a body that is not "
                                 "JSON or is nested too deeply."),
            403: OpenApiResponse(description="Missing or wrong intake key."),
            413: OpenApiResponse(description="Body too large, or an envelope with more than INTAKE_MAX_OPS ops "
                                 "(answered in Corezoid's shape)."),
            415: OpenApiResponse(description="Unsupported content type."),
            422: OpenApiResponse(description="Not stored: no consent (`consent`) where the site requires it, or a "
                                 "`consent_version` the site does not have; the message names the field."),
            429: OpenApiResponse(description="Throttled; see Retry-After."),
            503: OpenApiResponse(description="The database is unreachable; nothing was stored. Retry after "
                                 "the Retry-After seconds."),
        },
        examples=INTAKE_EXAMPLES,
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if is_envelope(data):
            return self._envelope(request, data)
        if not hasattr(data, "keys"):
            raise ParseError("Expected an object of fields.")
        builder = builder_detect(data, source=request.query_params.get("source", ""))
        if not builder and request.keyed_site is not None and request.keyed_site.form_field_map:
            builder = "generic"
        if builder:
            return self._builder(request, data, builder)
        fields, extra, honeypot = split_fields(data, honeypot_field=settings.INTAKE_HONEYPOT_FIELD)
        peer = self._peer(request)
        sub = Submission(fields=fields, extra=extra, peer=peer, hints=[str(fields.get("site") or ""), peer.referer],
                         raw=raw_capture(self._raw(request)), honeypot=honeypot)
        return self._accept(request, sub)

    def _builder(self, request: Request, data: Any, builder: str) -> Response | HttpResponse:
        """A form builder's webhook (leads/builders.py). Builders count any answer but 200 as a failure
        (Elementor, Tilda), so a new lead is answered 200 too; Tilda gets the text "ok" it looks for."""
        post = builder_read(data, builder=builder, site=request.keyed_site)
        if post.test:
            if request.keyed_site is None:
                metrics.intake_refused(status.HTTP_400_BAD_REQUEST)
                return Response({"key": [_MISSING_KEY]}, status=status.HTTP_400_BAD_REQUEST)
            return _ok_text() if builder == "tilda" else Response({"status": "ok", "test": True})
        fields, extra, honeypot = split_fields(post.data, honeypot_field=settings.INTAKE_HONEYPOT_FIELD)
        peer = self._peer(request)
        keyed = request.keyed_site is not None
        sub = Submission(
            fields=fields, extra={**extra, **{k: v for k, v in post.extra.items() if v}, "form_builder": builder},
            peer=peer, hints=[str(fields.get("site") or ""), peer.referer], raw=raw_capture(self._raw(request)),
            honeypot=honeypot, reported_ip=post.reported_ip or None, reported_user_agent=post.reported_user_agent,
            # Only the shop's own builder (it has the key) may name a submission: a stranger could otherwise
            # take a future id and have the real submission answered with a lead of theirs.
            submission_key=submission_key(builder, post.submission_id) if keyed else "",
        )
        response = self._accept(request, sub)
        if response.status_code == status.HTTP_201_CREATED:
            response.status_code = status.HTTP_200_OK
        if builder == "tilda" and response.status_code == status.HTTP_200_OK:
            answer = _ok_text()
            answer["X-Leadcaller-Lead"] = response.data["id"]
            answer["X-Leadcaller-Duplicate"] = "true" if response.data["duplicate"] else "false"
            return answer
        return response

    def _accept(self, request: Request, sub: Submission) -> Response:
        try:
            accepted = submission_accept(sub, keyed_site=request.keyed_site)
        except Rejected as exc:
            headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
            body = exc.detail if isinstance(exc.detail, dict) else {"detail": exc.detail}
            return Response(body, status=exc.status, headers=headers)
        # A swallowed honeypot post is answered like a new lead: a bot cannot tell them apart.
        code = status.HTTP_200_OK if accepted.duplicate else status.HTTP_201_CREATED
        return Response(_accepted_body(accepted, keyed=request.keyed_site is not None), status=code)

    def _envelope(self, request: Request, data: Any) -> Response:
        try:
            subs = envelope_submissions(data, honeypot_field=settings.INTAKE_HONEYPOT_FIELD, peer=self._peer(request))
        except EnvelopeError as exc:
            metrics.intake_refused(status.HTTP_400_BAD_REQUEST)
            return Response({"request_proc": "error", "description": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        ops = []
        for sub in subs:
            result: dict[str, Any] = {"obj": "task", "ref": sub.ref}
            if not sub.op_meta["valid"]:
                metrics.intake_refused(status.HTTP_400_BAD_REQUEST)
                ops.append({"proc": "error", **result, "description": "only type=create, obj=task is supported"})
                continue
            try:
                accepted = submission_accept(sub, keyed_site=request.keyed_site)
            except Rejected as exc:
                error = {"errors": exc.detail} if isinstance(exc.detail, dict) else {}
                description = exc.summary or (exc.detail if isinstance(exc.detail, str) else "invalid fields")
                ops.append({"proc": "error", **result, "description": description, **error})
                continue
            ops.append({"proc": "ok", **result, "obj_id": str(accepted.id), "duplicate": accepted.duplicate})
        return Response({"request_proc": "ok", "ops": ops}, status=status.HTTP_200_OK)

    def _peer(self, request: Request) -> Peer:
        # DRF's throttle identity honours NUM_PROXIES for X-Forwarded-For.
        ident = IntakeIPThrottle().get_ident(request)
        return Peer(ip=(ident or "").split(",")[0].strip() or None, user_agent=request.headers.get("User-Agent", ""),
                    origin=request.headers.get("Origin", ""), referer=request.headers.get("Referer", ""))

    def _raw(self, request: Request) -> dict[str, Any]:
        data = request.data
        if hasattr(data, "getlist"):  # a form: keep repeated fields as lists
            data = {key: (values if len(values) > 1 else values[0])
                    for key, values in ((key, data.getlist(key)) for key in data)}
        return {
            "content_type": request.content_type,
            "query": {k: v for k, v in request.query_params.items() if k != "key"},
            "headers": {name: request.headers[name] for name in _RAW_HEADERS if name in request.headers},
            "data": data,
        }


_MISSING_KEY = ("Add the site's intake key to the webhook address: /api/v1/leads/?key=<intake key> "
                "(the site's page in the admin shows it).")


def _ok_text() -> HttpResponse:
    # Tilda's documentation: the receiver answers 200 with the text "ok".
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


def _accepted_body(accepted: Accepted, *, keyed: bool) -> dict[str, Any]:
    if accepted.duplicate and not keyed:
        # Anyone may post a phone number: the answer confirms the copy, and tells nothing of the lead.
        return {"id": str(accepted.id), "duplicate": True}
    body = {"id": str(accepted.id), "status": accepted.status, "duplicate": accepted.duplicate}
    # For the widget: its own lead's state and next call (GET /api/v1/leads/status/), nothing else.
    body["status_token"] = status_token_make(accepted.id)
    return body
