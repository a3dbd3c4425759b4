"""JSON bodies for every DRF endpoint, read within bounds: no body is a way to a server error.

A JSON body nested thousands of levels deep makes Python's json module (and anything that walks the
result) raise RecursionError, a 500. Here JSON nested deeper than MAX_DEPTH is a 400. (The size of a
body is bounded before it is parsed: by Django's DATA_UPLOAD_MAX_MEMORY_SIZE, a 400, and on intake
by INTAKE_MAX_BYTES, a 413.) REST_FRAMEWORK's DEFAULT_PARSER_CLASSES and every view that names its
parsers use BoundedJSONParser.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Containers inside containers. A lead is 2 deep, a Corezoid envelope 5; `extra` may nest a little.
MAX_DEPTH = 32


def json_loads_bounded(text: str, *, strict: bool = True) -> Any:
    """json.loads, with a too-deep or malformed document as a ParseError (400)."""
    too_deep = f"JSON parse error - nested more than {MAX_DEPTH} levels deep."
    try:
        value = json.loads(text, parse_constant=_refuse_constant if strict else None)
    except RecursionError:
        raise ParseError(too_deep) from None
    except ValueError as exc:
        raise ParseError(f"JSON parse error - {exc}") from None
    if nesting_exceeds(value, MAX_DEPTH):
        raise ParseError(too_deep)
    return value


def nesting_exceeds(value: Any, limit: int) -> bool:
    """True when lists and objects sit more than `limit` deep (walked without recursion)."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _refuse_constant(name: str) -> None:
    raise ValueError(f"Out of range float values are not permitted: {name}")


class BoundedJSONParser(JSONParser):
    """DRF's JSONParser, bounded in depth."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = stream.read().decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        return json_loads_bounded(text, strict=self.strict)
