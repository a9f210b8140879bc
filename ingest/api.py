"""JSON APIs over HTTP for the search and social sources: polite, bounded, secret-safe.

One `JsonApi` per configured source, on the service's one shared httpx client:

* **Rate limits.** Every response's rate-limit headers are read: ``x-rate-limit-*``
  (X), ``x-ratelimit-*`` (Reddit, Mastodon), ``ratelimit-*`` (Bluesky). The reset may be
  an epoch (X, Bluesky), seconds from now (Reddit) or an ISO time (Mastodon); it is
  measured against the response's own ``Date`` where there is one, so a skewed local
  clock does not matter. When ``remaining`` reaches 0 the API *holds*: `hold` says how
  long, and any request made while held raises `ApiError` (429, ``retry_after``) without
  touching the network. A 429 holds for its ``Retry-After`` (else the reset, else a
  minute).
* **Failures** are `ApiError`: the HTTP status (if any) and one line of reason, the
  status and the platform's own message. A reason never carries a URL, a header or a
  credential, and every configured secret is masked in any text that leaves here.
  Credentials travel in headers only, never in a URL (httpx logs URLs).
* **Bounded.** A body over ``max_bytes`` is refused while it streams in, and the whole
  exchange has a deadline (httpx's timeouts are per phase).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import SecretStr

from core.clock import Clock
from core.secrets import MASK, secret_forms
from ingest.fetch import retry_after_seconds
from ingest.source import SourceError
from ingest.text import collapse_whitespace

_PREFIXES = ("x-rate-limit-", "x-ratelimit-", "ratelimit-")
_DEFAULT_HOLD = 60.0
"""Seconds to hold after a 429 (or an exhausted limit) that says nothing about when."""
_EPOCH_FLOOR = 1e9
"""A reset at or above this is an epoch in seconds, below it a delta (Reddit)."""
_SUFFIX = "<truncated>"


class ApiError(SourceError):
    """A request failed. ``status`` is the HTTP status (None: no response at all);
    ``code`` is the platform's machine-readable reason where it sends one."""

    def __init__(
        self,
        reason: str,
        retry_after: float | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(reason, retry_after)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Reply:
    data: Any
    headers: httpx.Headers


class JsonApi:
    """One platform's API, reached through the shared ``http`` client.

    ``auth`` are headers whose values are secrets (``Authorization``,
    ``X-Goog-Api-Key``); ``secrets`` are masked wherever text leaves this object.
    Safe to use from several threads.
    """

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        *,
        clock: Clock,
        user_agent: str,
        timeout: float,
        auth: Mapping[str, SecretStr] | None = None,
        secrets: Sequence[SecretStr | None] = (),
        max_bytes: int = 8_000_000,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._clock = clock
        self._user_agent = user_agent
        self._timeout = timeout
        self._auth = dict(auth or {})
        values = [s.get_secret_value() for s in (*self._auth.values(), *secrets) if s]
        self._secrets = secret_forms(values)
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._held_until: datetime | None = None

    # -- public ---------------------------------------------------------------------------
    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Reply:
        """GET ``path`` (relative to the base URL, or absolute) and parse its JSON."""
        return self._request("GET", path, params=params)

    def post(self, path: str, body: Any, params: Mapping[str, Any] | None = None) -> Reply:
        return self._request("POST", path, params=params, body=body)

    def hold(self) -> float:
        """Seconds until a request may be made (0: now)."""
        with self._lock:
            if self._held_until is None:
                return 0.0
            return max(0.0, (self._held_until - self._clock.now()).total_seconds())

    def redact(self, text: str) -> str:
        """``text`` with every configured secret masked."""
        for form in self._secrets:
            text = text.replace(form, MASK)
        return text

    def url(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}{path}"

    @contextmanager
    def stream(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        accept: str,
        idle_timeout: float,
    ) -> Iterator[httpx.Response]:
        """An open streaming response (status checked, rate limits noted); the caller
        reads it and it is closed on leaving. ``idle_timeout`` bounds each wait for data."""
        self._check_hold()
        request = self._http.build_request(
            "GET",
            self.url(path),
            params=_params(params),
            headers=self._headers(accept),
            timeout=httpx.Timeout(self._timeout, read=idle_timeout),
        )
        try:
            response = self._http.send(request, stream=True)
        except httpx.TimeoutException:
            raise ApiError(f"timed out after {self._timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise ApiError(self.redact(f"{type(exc).__name__}: {exc}")) from None
        try:
            self._note_limits(response.headers)
            if not response.is_success:
                body = _read_capped(response, 64_000, time.monotonic() + self._timeout)
                raise self._failure(response, body)
            yield response
        finally:
            response.close()

    # -- internals ------------------------------------------------------------------------
    def _headers(self, accept: str) -> dict[str, str]:
        headers = {"User-Agent": self._user_agent, "Accept": accept}
        headers.update({k: v.get_secret_value() for k, v in self._auth.items()})
        return headers

    def _check_hold(self) -> None:
        wait = self.hold()
        if wait > 0:
            raise ApiError(
                f"rate limit reached, waiting {wait:.0f}s for the reset",
                retry_after=wait,
                status=429,
            )

    def _request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None, body: Any = None
    ) -> Reply:
        self._check_hold()
        deadline = time.monotonic() + self._timeout
        try:
            with self._http.stream(
                method,
                self.url(path),
                params=_params(params),
                json=body,
                headers=self._headers("application/json"),
                timeout=self._timeout,
            ) as response:
                self._note_limits(response.headers)
                raw = _read_capped(response, self._max_bytes, deadline)
                if not response.is_success:
                    raise self._failure(response, raw)
                headers = response.headers
        except httpx.TimeoutException:
            raise ApiError(f"timed out after {self._timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise ApiError(self.redact(f"{type(exc).__name__}: {exc}")) from None
        try:
            return Reply(json.loads(raw), headers)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ApiError("the response is not JSON", status=response.status_code) from None

    def _failure(self, response: httpx.Response, raw: bytes) -> ApiError:
        status = response.status_code
        message, code = _platform_message(raw)
        reason = f"HTTP {status} {response.reason_phrase}".strip()
        if message and message.lower() not in reason.lower():
            reason = f"{reason}: {message}"
        retry_after = retry_after_seconds(response.headers)
        if status == 429:
            retry_after = retry_after or _reset_wait(response.headers, self._clock.now())
            retry_after = _DEFAULT_HOLD if retry_after is None else retry_after
            self._hold_for(retry_after)
        return ApiError(self.redact(reason), retry_after, status=status, code=code)

    def _note_limits(self, headers: httpx.Headers) -> None:
        wait = exhausted_wait(headers, self._clock.now())
        if wait is not None:
            self._hold_for(wait)

    def _hold_for(self, seconds: float) -> None:
        until = self._clock.now() + timedelta(seconds=seconds)
        with self._lock:
            if self._held_until is None or until > self._held_until:
                self._held_until = until


def hang_up(response: httpx.Response) -> None:
    """Close a streaming response from another thread, waking a read blocked on it (a
    plain close does not wake a blocked ``recv`` on Linux; a socket shutdown does)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    response.close()


def exhausted_wait(headers: httpx.Headers, now: datetime) -> float | None:
    """Seconds until the rate limit resets when the headers say none is left, else None."""
    for prefix in _PREFIXES:
        remaining = headers.get(prefix + "remaining")
        if remaining is None:
            continue
        try:
            left = float(remaining)
        except ValueError:
            continue
        if left >= 1:  # Reddit sends fractions such as "99.0"
            return None
        wait = _reset_wait(headers, now)
        return _DEFAULT_HOLD if wait is None else wait
    return None


def _reset_wait(headers: httpx.Headers, now: datetime) -> float | None:
    for prefix in _PREFIXES:
        value = (headers.get(prefix + "reset") or "").strip()
        if value:
            return _until(value, _server_time(headers) or now)
    return None


def _until(value: str, now: datetime) -> float | None:
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None:
        if number < _EPOCH_FLOOR:
            return max(0.0, number)
        return max(0.0, number - now.timestamp())
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _server_time(headers: httpx.Headers) -> datetime | None:
    try:
        sent = parsedate_to_datetime(headers.get("date") or "")
    except (TypeError, ValueError, IndexError):
        return None
    return sent if sent.tzinfo is not None else None


def _params(params: Mapping[str, Any] | None) -> list[tuple[str, str | int | float | bool | None]]:
    """Query parameters without the Nones; a list value repeats the key."""
    if params is None:
        return []
    out: list[tuple[str, str | int | float | bool | None]] = []
    for key, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        out.extend((key, str(v)) for v in values)
    return out


def _read_capped(response: httpx.Response, limit: int, deadline: float) -> bytes:
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise ApiError(f"too large: more than {limit} bytes", status=response.status_code)
        if time.monotonic() > deadline:
            raise ApiError("timed out while reading the response", status=response.status_code)
    return bytes(body)


def _platform_message(raw: bytes) -> tuple[str | None, str | None]:
    """The platform's own words about an error, and its machine-readable reason."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        text = collapse_whitespace(raw[:300].decode("utf-8", "replace"))
        return (_short(text) if text and not text.startswith("<") else None), None
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    code: str | None = None
    candidates: list[object] = [body.get("detail"), body.get("message")]
    if isinstance(error, dict):  # Google: {"error": {"message", "errors": [{"reason"}]}}
        candidates.insert(0, error.get("message"))
        reasons = error.get("errors") or [{}]
        code = reasons[0].get("reason") if isinstance(reasons[0], dict) else None
    elif isinstance(error, str):  # Mastodon {"error"}, Bluesky {"error", "message"}
        candidates.append(error)
        code = error
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):  # X v2
        candidates.append(errors[0].get("message") or errors[0].get("title"))
    candidates.append(body.get("title"))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return _short(collapse_whitespace(candidate)), code
    return None, code


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - len(_SUFFIX)] + _SUFFIX
