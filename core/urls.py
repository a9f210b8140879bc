"""URL canonicalisation, so one article reached by two routes is one mention."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PREFIXES = ("utm_", "mc_", "pk_")
_TRACKING_KEYS = frozenset({"fbclid", "gclid", "dclid", "msclkid", "igshid", "ref", "ref_src"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


_ITEM_ANCHOR = re.compile(r"[A-Za-z_-]*\d+")
"""A fragment that numbers an item of the page (``#comment-42``, ``#c42``, ``#reply-7``):
each comment of a comment feed is its own mention, though all link to one post."""


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no tracking parameters, remaining
    query parameters sorted, ``http`` treated as ``https``, no fragment unless it numbers
    an item (`_ITEM_ANCHOR`; ``#top`` or ``#xtor=RSS-3`` go).

    Anything that does not parse as an absolute URL is returned stripped but otherwise
    unchanged, so it still works as an identity.
    """
    raw = url.strip()
    parts = urlsplit(raw)
    if not parts.scheme or not parts.netloc:
        return raw
    scheme = parts.scheme.lower()
    if scheme == "http":
        scheme = "https"
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    port = parts.port
    netloc = (
        host
        if port is None or port == _DEFAULT_PORTS.get(parts.scheme.lower())
        else (f"{host}:{port}")
    )
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING_KEYS
    )
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    fragment = parts.fragment if _ITEM_ANCHOR.fullmatch(parts.fragment) else ""
    return urlunsplit((scheme, netloc, path, urlencode(query), fragment))
