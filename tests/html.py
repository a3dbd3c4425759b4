"""Reading our pages' HTML in tests."""

from __future__ import annotations

import re

_LOADED = re.compile(r'\b(?:src|href)="([^"]*)"')


def addresses_loaded(html: str) -> list[str]:
    """Every src= and href= of the page."""
    return _LOADED.findall(html)


def loaded_from_elsewhere(html: str) -> list[str]:
    """The page's src= and href= that point at another host (a CDN, say): ours are all paths."""
    return [url for url in addresses_loaded(html) if url.startswith(("http:", "https:", "//"))]
