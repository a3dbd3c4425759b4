"""The Russian catalogue is complete, and the compiled file (what Django reads) says what the source says."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.utils import translation

PO = Path(__file__).resolve().parents[1] / "locale/ru/LC_MESSAGES/django.po"


def _field(block: str, name: str) -> str | None:
    match = re.search(rf'^{re.escape(name)} ((?:".*"\n?)+)', block + "\n", re.M)
    if match is None:
        return None
    return "".join(ast.literal_eval(chunk) for chunk in re.findall(r'^".*"$', match.group(1), re.M))


def entries() -> list[dict]:
    result = []
    for block in PO.read_text().split("\n\n"):
        msgid = _field(block, "msgid")
        if not msgid:
            continue  # the header
        plural = _field(block, "msgid_plural")
        strs = [_field(block, f"msgstr[{i}]") for i in range(4)] if plural else [_field(block, "msgstr")]
        result.append({"msgid": msgid, "plural": plural, "strs": strs, "fuzzy": "fuzzy" in block.split("msgid")[0]})
    return result


def test_every_message_has_a_russian_translation():
    missing = [e["msgid"] for e in entries() if not all(e["strs"]) or e["fuzzy"]]

    assert len(entries()) > 200 and missing == []


def test_the_compiled_catalogue_matches_its_source():
    with translation.override("ru"):
        stale = [e["msgid"] for e in entries() if not e["plural"] and translation.gettext(e["msgid"]) != e["strs"][0]]

    assert stale == []
