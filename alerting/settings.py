"""Settings of the alerting stage: receivers, repeat interval, retry policy, silences.

Example (the ``alerting:`` section of the settings file)::

    alerting:
      default_receivers: [oncall-slack, comms-mail]
      repeat_interval: 4h
      search_url: "http://127.0.0.1:8080/?brand={brand}&since={since}"
      retry: {max_attempts: 5, initial_backoff: 10s, max_backoff: 5m, jitter: 5s}
      receivers:
        oncall-slack:
          type: slack
          webhook_url: ${SLACK_WEBHOOK_URL}
          channel: "#crisis"
        comms-mail:
          type: email
          host: smtp.example.com
          username: stormwatch
          password: ${SMTP_PASSWORD}
          from_addr: stormwatch@example.com
          to: [comms@example.com]
        ticketing:
          type: webhook
          url: https://tickets.example.com/hooks/stormwatch
          headers: {Authorization: "Bearer ${TICKETS_TOKEN}"}
        outbox:
          type: outbox
          path: var/outbox
      silences:
        - brand: acme
          rule: "volume-*"
          ends_at: 2026-03-01T08:00:00Z
          comment: planned product launch

Contracts: every model is frozen and refuses unknown keys; the receiver ``type`` picks the
model (and, in `alerting.notifiers.REGISTRY`, the notifier class); secrets are `SecretStr`
and never printed; cross-field mistakes (unknown default receiver, ``ssl`` with
``starttls``, a search URL with an unknown placeholder) are refused at load.
"""

from __future__ import annotations

import string
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from core.config import Duration
from core.records import Alert, Severity

SEARCH_URL_FIELDS = frozenset({"brand", "rule", "severity", "fingerprint", "since", "until"})
"""The placeholders a ``search_url`` template may use (values are URL-quoted)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Receiver(_Model):
    send_resolved: bool = True
    """Also tell this receiver when an alert resolves."""


class SlackReceiver(_Receiver):
    """A Slack incoming webhook. The URL is the credential, so it is a secret."""

    type: Literal["slack"] = "slack"
    webhook_url: SecretStr
    channel: str | None = None
    """Overrides the webhook's channel (only legacy webhooks honour it)."""
    username: str | None = None
    timeout: Duration = timedelta(seconds=10)

    @model_validator(mode="after")
    def _url(self) -> Self:
        # The value is a secret: the reason must not repeat it (a field validator's would).
        # A value read from a file often ends in a line break: dropped.
        url = self.webhook_url.get_secret_value().strip()
        if not url.startswith(("https://", "http://")):
            raise ValueError("webhook_url must be an http(s) URL")
        if not url.isprintable() or " " in url:
            raise ValueError("webhook_url must not contain spaces or line breaks")
        object.__setattr__(self, "webhook_url", SecretStr(url))  # frozen: set once, here
        return self


class EmailReceiver(_Receiver):
    """An SMTP relay. ``port`` defaults to 465 with ``ssl``, 587 with ``starttls``, else 25."""

    type: Literal["email"] = "email"
    host: Annotated[str, Field(min_length=1)]
    port: int | None = Field(default=None, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False
    """Implicit TLS from the first byte (SMTPS, port 465)."""
    ca_file: Path | None = None
    """CA bundle to verify the server with; none: the system's trust store."""
    username: str | None = None
    password: SecretStr | None = None
    from_addr: Annotated[str, Field(min_length=3)]
    to: Annotated[tuple[str, ...], Field(min_length=1)]
    subject_prefix: str = "[stormwatch]"
    timeout: Duration = timedelta(seconds=10)

    @model_validator(mode="before")
    @classmethod
    def _ssl_implies_no_starttls(cls, data: Any) -> Any:
        # `ssl: true` alone means SMTPS; only an explicit `starttls: true` beside it is an error.
        if isinstance(data, dict) and data.get("ssl") is True and "starttls" not in data:
            return {**data, "starttls": False}
        return data

    @model_validator(mode="after")
    def _checks(self) -> Self:
        if self.ssl and self.starttls:
            raise ValueError("ssl (implicit TLS) and starttls exclude each other; pick one")
        if self.port == 465 and not self.ssl:
            raise ValueError("port 465 is SMTPS: set ssl: true (starttls is for port 587)")
        if bool(self.username) != bool(self.password):
            raise ValueError("username and password go together")
        for addr in (self.from_addr, *self.to):
            if "@" not in addr or any(c.isspace() for c in addr.strip()):
                raise ValueError(f"{addr!r} is not an e-mail address")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 465 if self.ssl else 587 if self.starttls else 25


class WebhookReceiver(_Receiver):
    """A JSON POST of the alert. Header values are secrets (tokens)."""

    type: Literal["webhook"] = "webhook"
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout: Duration = timedelta(seconds=10)


class OutboxReceiver(_Receiver):
    """A folder: one ``.json`` and one ``.txt`` file per notification (the demo's receiver)."""

    type: Literal["outbox"] = "outbox"
    path: Path


Receiver = Annotated[
    SlackReceiver | EmailReceiver | WebhookReceiver | OutboxReceiver, Field(discriminator="type")
]


class RetryPolicy(_Model):
    """Exponential backoff with jitter: wait ``initial * 2**(n-1) + U(0, jitter)``, capped."""

    max_attempts: int = Field(default=5, ge=1, le=100)
    """Attempts in all, the first (inline) one included."""
    initial_backoff: Duration = timedelta(seconds=10)
    max_backoff: Duration = timedelta(minutes=5)
    jitter: Duration = timedelta(seconds=5)

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.initial_backoff <= timedelta(0):
            raise ValueError("initial_backoff must be positive")
        if self.max_backoff < self.initial_backoff:
            raise ValueError("max_backoff must be at least initial_backoff")
        if self.jitter < timedelta(0):
            raise ValueError("jitter must not be negative")
        return self


class Silence(_Model):
    """Mutes the alerts it matches while active. Every given matcher must match;
    ``brand``, ``rule`` and label values may be shell-style patterns (``volume-*``)."""

    brand: str | None = None
    rule: str | None = None
    severity: Severity | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    comment: str = ""

    @model_validator(mode="after")
    def _checks(self) -> Self:
        if self.brand is None and self.rule is None and self.severity is None and not self.labels:
            raise ValueError("a silence needs at least one of brand, rule, severity, labels")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def active(self, now: datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= now) and (
            self.ends_at is None or now < self.ends_at
        )

    def matches(self, alert: Alert) -> bool:
        if self.brand is not None and not fnmatchcase(alert.brand, self.brand):
            return False
        if self.rule is not None and not fnmatchcase(alert.rule, self.rule):
            return False
        if self.severity is not None and alert.severity != self.severity:
            return False
        return all(
            key in alert.labels and fnmatchcase(alert.labels[key], pattern)
            for key, pattern in self.labels.items()
        )

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in (("brand", self.brand), ("rule", self.rule)) if v]
        if self.severity:
            parts.append(f"severity={self.severity.value}")
        parts.extend(f"{k}={v}" for k, v in sorted(self.labels.items()))
        text = "silence " + ",".join(parts)
        return f"{text} ({self.comment})" if self.comment else text


def _default_receivers() -> dict[str, Receiver]:
    return {"outbox": OutboxReceiver(path=Path("outbox"))}


class AlertingSettings(_Model):
    receivers: dict[str, Receiver] = Field(default_factory=_default_receivers)
    default_receivers: tuple[str, ...] = ()
    """Receivers of an alert whose rule names none; empty: every configured receiver."""
    repeat_interval: Duration = timedelta(hours=4)
    """At most one page per fingerprint and receiver within this interval; a new episode
    held back by it pages when the interval ends, if it is still on then."""
    retry: RetryPolicy = RetryPolicy()
    search_url: str | None = None
    """Link to the pre-filtered search; placeholders: see `SEARCH_URL_FIELDS`."""
    silences: tuple[Silence, ...] = ()
    """A firing muted by silences that all end pages when they end, if its episode is
    still on then; one with no end mutes it for good."""

    def fallback_receivers(self) -> tuple[str, ...]:
        """Where an alert whose rule names no receiver goes."""
        return self.default_receivers or tuple(self.receivers)

    @model_validator(mode="after")
    def _checks(self) -> Self:
        if self.repeat_interval < timedelta(0):
            raise ValueError("repeat_interval must not be negative")
        if not self.receivers:
            raise ValueError("receivers: configure at least one receiver")
        unknown = [name for name in self.default_receivers if name not in self.receivers]
        if unknown:
            raise ValueError(f"default_receivers: no receiver named {', '.join(unknown)}")
        if self.search_url is not None:
            if not self.search_url.startswith(("http://", "https://")):
                raise ValueError("search_url must be an http(s) URL template")
            try:
                fields = {f for _, f, _, _ in string.Formatter().parse(self.search_url) if f}
            except ValueError as exc:
                raise ValueError(f"search_url: {exc}") from None
            bad = sorted(fields - SEARCH_URL_FIELDS)
            if bad:
                allowed = ", ".join(sorted(SEARCH_URL_FIELDS))
                raise ValueError(f"search_url: unknown placeholder {bad[0]!r} (use {allowed})")
            try:  # what a page will do with it: {since:%Y}, {brand!x} or {} fail here
                self.search_url.format(**dict.fromkeys(SEARCH_URL_FIELDS, "x"))
            except (ValueError, IndexError, KeyError, AttributeError, TypeError) as exc:
                raise ValueError(f"search_url: {exc} (write placeholders as {{brand}})") from None
        return self

    def unknown_receivers(self, names: tuple[str, ...]) -> list[str]:
        """The names (e.g. from rule files) that no configured receiver answers to."""
        return [name for name in names if name not in self.receivers]
