"""Test helpers for the alerting tests: alerts, a scripted notifier, settings, ports."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd import smtp as smtpd
from aiosmtpd.smtp import Envelope, Session

from alerting.notifiers.base import DeliveryError, Notification, Notifier
from alerting.settings import AlertingSettings, OutboxReceiver, RetryPolicy
from core.records import Alert, AlertState, SampleMention, Severity

USER, PASSWORD = "stormwatch", "s3cr3t-smtp-pa55"

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def make_alert(
    *,
    state: AlertState = AlertState.FIRING,
    started_at: datetime = T0,
    at: datetime | None = None,
    brand: str = "acme",
    rule: str = "negative-spike",
    severity: Severity = Severity.CRITICAL,
    receivers: tuple[str, ...] = (),
    labels: dict[str, str] | None = None,
    samples: int = 3,
    summary: str = "Negative mentions of Acme up 5x in 10 minutes",
) -> Alert:
    when = at or (started_at if state is AlertState.FIRING else started_at + timedelta(hours=1))
    return Alert(
        rule=rule,
        rule_type="spike",
        brand=brand,
        severity=severity,
        state=state,
        started_at=started_at,
        at=when,
        summary=summary,
        figures={"window_count": 42, "baseline": 8.5, "zscore": 5.25},
        samples=tuple(
            SampleMention(
                id=f"m{i}",
                title=f"Acme outage day {i}",
                url=f"https://news.example.com/acme/{i}",
                source="rss",
                published_at=started_at - timedelta(minutes=i),
            )
            for i in range(samples)
        ),
        receivers=receivers,
        labels=labels or {},
    )


def resolved_of(alert: Alert, after: timedelta = timedelta(hours=1)) -> Alert:
    body = alert.model_dump()
    body.update(id="", state=AlertState.RESOLVED, at=alert.started_at + after)
    return Alert.model_validate(body)


def free_port() -> int:
    """A port nobody listens on (bound, then released): connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


DOWN = DeliveryError("scripted receiver: cannot reach host", retryable=True)
BAD = DeliveryError("scripted receiver: HTTP 404", retryable=False)


class Scripted(Notifier[OutboxReceiver]):
    """Records what it is asked to send; raises the scripted errors first, in order."""

    kind = "scripted"

    def __init__(
        self, name: str, errors: Iterable[Exception] = (), *, always: Exception | None = None
    ):
        super().__init__(name, OutboxReceiver(path=Path("unused")), httpx.Client())
        self.errors = list(errors)
        self.always = always
        self.sent: list[Notification] = []
        self.attempts = 0

    def send(self, notification: Notification) -> None:
        self.attempts += 1
        if self.always is not None:
            raise self.always
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(notification)


def make_settings(**kw: Any) -> AlertingSettings:
    body: dict[str, Any] = {
        "receivers": {
            "slack": OutboxReceiver(path=Path("x")),
            "mail": OutboxReceiver(path=Path("x")),
            "quiet": OutboxReceiver(path=Path("x"), send_resolved=False),
        },
        "default_receivers": ("slack",),
        "repeat_interval": timedelta(hours=4),
        "retry": RetryPolicy(
            max_attempts=4,
            initial_backoff=timedelta(seconds=10),
            max_backoff=timedelta(minutes=5),
            jitter=timedelta(0),
        ),
    }
    body.update(kw)
    return AlertingSettings.model_validate(body)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """A real HTTP server on 127.0.0.1; answers with the queued (status, body, headers)."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    replies: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def reply(self, status: int, body: str = "", headers: dict[str, str] | None = None) -> None:
        self.replies.append((status, body, headers or {}))


@dataclass
class Mailbox:
    port: int = 0
    messages: list[Envelope] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    reject_rcpt: str | None = None
    """Reply for RCPT TO, e.g. ``550 no such user`` or ``450 try later``."""
    reject_only: str | None = None
    """The one address ``reject_rcpt`` refuses (None: every address)."""

    async def handle_RCPT(  # noqa: N802 (aiosmtpd hook name)
        self, server: smtpd.SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.reject_rcpt and self.reject_only in (None, address):
            return self.reject_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd hook name)
        self, server: smtpd.SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.messages.append(envelope)
        return "250 Message accepted"
