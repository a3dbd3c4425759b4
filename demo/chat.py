"""A Telegram message as the chat shows it, as safe HTML: built from the text Telegram displays and
its entities (never from the HTML we sent), every piece of text escaped, links only to http(s)/tel."""

from __future__ import annotations

from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_TAGS = {"bold": "b", "italic": "i", "underline": "u", "strikethrough": "s", "code": "code", "pre": "pre",
         "blockquote": "blockquote", "expandable_blockquote": "blockquote", "spoiler": "span"}
_SAFE_SCHEMES = ("http://", "https://", "tel:")


def message_html(plain: str, entities: list[dict[str, Any]]) -> SafeString:
    index = _utf16_index(plain)
    spans = []
    for entity in entities:
        start, end = index.get(entity.get("offset", 0)), index.get(entity.get("offset", 0) + entity.get("length", 0))
        if start is not None and end is not None and end > start:
            spans.append((start, end, _open_tag(entity)))
    spans.sort(key=lambda s: (s[0], -s[1]))
    out: list[str] = []
    stack: list[tuple[int, str]] = []  # (end, closing tag)
    position = 0
    for start, end, (opening, closing) in spans:
        position = _close_until(out, stack, plain, position, start)
        if stack and end > stack[-1][0]:
            continue  # overlaps its parent: Telegram's own entities nest, so only a malformed one lands here
        out.append(escape(plain[position:start]))
        position = start
        out.append(opening)
        stack.append((end, closing))
    position = _close_until(out, stack, plain, position, len(plain))
    out.append(escape(plain[position:]))
    return mark_safe("".join(out).replace("\n", "<br>"))


def _close_until(out: list[str], stack: list[tuple[int, str]], plain: str, position: int, limit: int) -> int:
    while stack and stack[-1][0] <= limit:
        end, closing = stack.pop()
        out.append(escape(plain[position:end]) + closing)
        position = end
    return position


def _open_tag(entity: dict[str, Any]) -> tuple[str, str]:
    kind = entity.get("type")
    if kind == "text_link":
        url = str(entity.get("url") or "")
        if url.lower().startswith(_SAFE_SCHEMES):
            return f'<a href="{escape(url)}" rel="noopener noreferrer">', "</a>"
        return "", ""
    tag = _TAGS.get(str(kind))
    if tag is None:
        return "", ""
    return (f'<{tag} class="spoiler">' if kind == "spoiler" else f"<{tag}>"), f"</{tag}>"


def _utf16_index(text: str) -> dict[int, int]:
    """UTF-16 offset (Telegram's unit) -> index in the Python string, at every character boundary."""
    index, units = {0: 0}, 0
    for i, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        index[units] = i + 1
    return index


def buttons(reply_markup: dict[str, Any] | None) -> list[dict[str, str]]:
    """URL buttons as (text, url) for links; other buttons as text only."""
    result = []
    for row in (reply_markup or {}).get("inline_keyboard", []):
        for button in row:
            url = str(button.get("url") or "")
            result.append({"text": str(button.get("text", "")),
                           "url": url if url.lower().startswith(_SAFE_SCHEMES) else ""})
    return result
