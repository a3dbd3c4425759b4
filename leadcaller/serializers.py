"""Serializer fields made once per class for the bodies every lead sends (intake, the call's webhook)."""

from __future__ import annotations

import copy
from typing import Any

from rest_framework import serializers


def _nested(field: serializers.Field) -> bool:
    # A child is bound to the field it was made with: a shallow copy would keep it bound to the prototype.
    return hasattr(field, "child") or isinstance(field, serializers.BaseSerializer)


class PrototypeFieldsMixin:
    """DRF deep-copies every declared field for each serializer it makes, which runs each field's
    __init__ again and builds its validators anew: a tenth of the web workers' request CPU under a burst of
    leads (py-spy, docs/benchmarks.md). Here the declared fields are deep-copied once per class into
    prototypes that are never bound, and each serializer gets shallow copies of them, which it binds
    as its own. A field with a child or nested fields is still deep-copied."""

    _prototypes: dict[type, dict[str, serializers.Field]] = {}

    def get_fields(self) -> dict[str, Any]:
        prototypes = PrototypeFieldsMixin._prototypes.get(type(self))
        if prototypes is None:  # two threads may both make them; either set will do
            prototypes = PrototypeFieldsMixin._prototypes[type(self)] = copy.deepcopy(self._declared_fields)
        return {name: copy.deepcopy(field) if _nested(field) else copy.copy(field)
                for name, field in prototypes.items()}
