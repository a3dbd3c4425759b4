"""Body parsers for the intake endpoint."""

from __future__ import annotations

from django.http import QueryDict
from rest_framework.parsers import FormParser

from leadcaller.parsers import json_loads_bounded


class FormOrJsonParser(FormParser):
    """Form-encoded bodies, and JSON sent under the form content type.

    The PHP snippet that shops use with Corezoid posts its JSON envelope with `curl --data`,
    which labels the body application/x-www-form-urlencoded; such a body is read as JSON.
    Either way JSON is read within the depth bound of every endpoint (leadcaller/parsers.py).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        body = stream.read() if stream is not None else b""
        text = body.decode(encoding, errors="replace")
        if text.lstrip().startswith(("{", "[")):
            return json_loads_bounded(text)
        return QueryDict(text, encoding=encoding)
