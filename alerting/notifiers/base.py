"""The notifier port: a notifier only sends, and says whether a failure is worth retrying.

Contracts every notifier keeps:

* `Notifier.send` delivers one notification once, or raises `DeliveryError` with
  ``retryable`` set when a later attempt may succeed (network down, 5xx, 429, SMTP 4xx)
  and unset when it cannot (bad credentials, 4xx, refused recipients). Backoff and
  retries are not its business (`alerting.retry` does them).
* Error messages and logs never contain a secret: `Notifier.error` redacts the values
  `Notifier.secrets` names, and those values are masked in the HTTP libraries' logs.
* HTTP goes through the one injected `httpx.Client` (tests swap its transport).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

import httpx
from pydantic import BaseModel

from alerting.redact import guard_logs, redact
from core.records import Alert

S = TypeVar("S", bound=BaseModel)

RETRYABLE_HTTP = frozenset({408, 425, 429})
"""Client errors that a later attempt may get past (besides every 5xx)."""


class DeliveryError(Exception):
    """A notification did not get through. The message is safe to log and store."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        """Seconds the receiver asked us to wait (HTTP Retry-After), if it did."""


@dataclass(frozen=True, slots=True)
class Notification:
    """What a notifier delivers: one alert, for one receiver."""

    alert: Alert
    receiver: str
    sent_at: datetime
    search_url: str | None = None
    """The link to the pre-filtered search, when a template is configured."""


class Notifier(ABC, Generic[S]):
    kind: ClassVar[str]
    """The receiver ``type`` this notifier serves (the registry key)."""

    def __init__(self, name: str, settings: S, http: httpx.Client) -> None:
        self.name = name
        self.settings = settings
        self._http = http
        guard_logs(self.secrets())

    @abstractmethod
    def send(self, notification: Notification) -> None:
        """Deliver once, or raise `DeliveryError`."""

    def secrets(self) -> tuple[str, ...]:
        """The secret values of this receiver's settings (masked in errors and logs)."""
        return ()

    def error(
        self, message: str, *, retryable: bool, retry_after: float | None = None
    ) -> DeliveryError:
        text = redact(f"{self.kind} receiver {self.name!r}: {message}", self.secrets())
        return DeliveryError(text, retryable=retryable, retry_after=retry_after)


class HttpNotifier(Notifier[S]):
    """A notifier that POSTs JSON; maps transport errors and status codes to `DeliveryError`."""

    def post_json(
        self,
        url: str,
        body: Any,
        *,
        timeout: timedelta,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        # Only the host is ever shown: paths and queries of webhook URLs carry tokens.
        where = _host(url)
        seconds = timeout.total_seconds()
        try:
            response = self._http.post(url, json=body, headers=headers, timeout=seconds)
        except httpx.TimeoutException:
            raise self.error(
                f"no answer from {where} within {seconds:g}s", retryable=True
            ) from None
        except httpx.TransportError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise self.error(f"cannot reach {where}: {reason}", retryable=True) from None
        except httpx.HTTPError as exc:
            raise self.error(f"request to {where} failed: {exc}", retryable=False) from None
        status = response.status_code
        if status < 300:
            return response
        detail = " ".join(response.text[:200].split())
        retryable = status in RETRYABLE_HTTP or status >= 500
        raise self.error(
            f"{where} answered HTTP {status}" + (f": {detail}" if detail else ""),
            retryable=retryable,
            retry_after=_retry_after(response) if retryable else None,
        )


def _host(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "an invalid URL"
    return f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host


def _retry_after(response: httpx.Response) -> float | None:
    # Slack and most APIs send delta-seconds; an HTTP-date is left to the backoff.
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None
