"""Body parsers for the intake endpoint."""

from __future__ import annotations

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser


class FormOrJsonParser(FormParser):
    """Form-encoded bodies, and JSON sent under the form content type.

    The PHP snippet that shops use with Corezoid posts its JSON envelope with `curl --data`,
    which labels the body application/x-www-form-urlencoded; such a body is read as JSON.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        body = stream.read() if stream is not None else b""
        text = body.decode(encoding, errors="replace")
        if text.lstrip().startswith(("{", "[")):
            try:
                return json.loads(text)
            except ValueError as exc:
                raise ParseError(f"JSON parse error - {exc}") from exc
        from django.http import QueryDict

        return QueryDict(text, encoding=encoding)
