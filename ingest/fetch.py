"""Fetching one document over HTTP politely and safely, for every polling source.

Conditional GET (``If-None-Match`` / ``If-Modified-Since`` from the last response's
``ETag`` / ``Last-Modified``), a total deadline, and a size cap enforced while the body
streams in, so a huge or endless response is refused without being held in memory.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from ingest.source import SourceError

ETAG = "etag"
LAST_MODIFIED = "last_modified"


@dataclass(frozen=True, slots=True)
class Document:
    body: bytes
    url: str
    """The final URL, after redirects (the base for relative links)."""
    content_type: str | None
    validators: dict[str, str]
    """``etag`` / ``last_modified`` to send next time (empty if the server gave none)."""


def fetch_document(
    client: httpx.Client,
    url: str,
    *,
    validators: Mapping[str, str],
    timeout: float,
    max_bytes: int,
    user_agent: str,
    accept: str = "*/*",
) -> Document | None:
    """GET ``url``; None when the server says it has not changed (304).

    Raises `SourceError` for a transport failure, a timeout (``timeout`` bounds connecting,
    each wait for data, and the whole exchange, checked as data arrives), a status other
    than 2xx/304, or a body over ``max_bytes`` (counted after content decoding, so a
    compressed bomb is caught too).
    """
    headers = {"User-Agent": user_agent, "Accept": accept}
    if validators.get(ETAG):
        headers["If-None-Match"] = validators[ETAG]
    if validators.get(LAST_MODIFIED):
        headers["If-Modified-Since"] = validators[LAST_MODIFIED]
    # httpx's timeout is per phase (connect, each read): a server trickling one byte a
    # second would never trip it, so the whole exchange also has a deadline.
    deadline = time.monotonic() + timeout
    try:
        with client.stream(
            "GET", url, headers=headers, timeout=timeout, follow_redirects=True
        ) as response:
            if response.status_code == 304:
                return None
            if not response.is_success:
                raise SourceError(
                    f"HTTP {response.status_code} {response.reason_phrase}".strip(),
                    retry_after=retry_after_seconds(response.headers),
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise SourceError(f"too large: {declared} bytes declared, limit {max_bytes}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise SourceError(f"too large: more than {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise SourceError(f"timed out after {timeout:g}s")
            kept = {
                name: value
                for name, value in (
                    (ETAG, response.headers.get("etag")),
                    (LAST_MODIFIED, response.headers.get("last-modified")),
                )
                if value
            }
            return Document(
                bytes(body), str(response.url), response.headers.get("content-type"), kept
            )
    except httpx.TimeoutException:
        raise SourceError(f"timed out after {timeout:g}s") from None
    except httpx.HTTPError as exc:
        raise SourceError(f"{type(exc).__name__}: {exc}") from None


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds, or an HTTP date measured
    against the response's own ``Date`` (so no local clock is involved)."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
        sent = email.utils.parsedate_to_datetime(headers.get("date") or "")
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None or sent.tzinfo is None:
        return None
    return max(0.0, (when - sent).total_seconds())
