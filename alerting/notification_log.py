"""The durable notification log: one record per delivery decision, on ``alerts.notifications``.

Every outcome (sent, retrying, failed, muted, deduplicated) of every alert for every receiver
is one `NotificationRecord`, keyed by the alert's fingerprint. The topic is compacted, so
Kafka may keep only the latest record of a fingerprint: each record therefore carries the
fingerprint's whole `Ledger` as it stood after the decision (dedup memory and pending
retries, alerts included). Restoring = the latest ledger per fingerprint; nothing else
from older records is needed.

On the bus a record is JSON ``{"v": 1, "kind": "notification", ...}``; `decode_record`
refuses other versions and kinds with `core.records.InvalidRecord`. ``error`` and
``reason`` never hold secrets (notifiers redact them before they get here).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from core.records import Alert, AlertState, InvalidRecord, describe_validation_error

LOG_VERSION: Literal[1] = 1
KIND: Literal["notification"] = "notification"


class Status(StrEnum):
    SENT = "sent"
    RETRYING = "retrying"
    """Not delivered yet; another attempt is due at ``next_attempt_at``."""
    FAILED = "failed"
    """Given up: not retryable, or ``max_attempts`` spent."""
    MUTED = "muted"
    DEDUPLICATED = "deduplicated"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Pending(_Model):
    """A delivery waiting for its next attempt (a retry, or a resolved waiting for its firing)."""

    alert: Alert
    receiver: str
    attempt: int = Field(ge=0)
    """Attempts made so far."""
    next_attempt_at: AwareDatetime


class ReceiverLedger(_Model):
    """What one receiver got of one fingerprint: the latest episode and the last page."""

    episode: str | None = None
    started_at: AwareDatetime | None = None
    firing: Status | None = None
    """Delivery status of the episode's firing notification (None: not seen)."""
    resolved: Status | None = None
    last_paged_at: AwareDatetime | None = None
    """When a firing notification of this fingerprint last reached the receiver."""


class Ledger(_Model):
    """Everything alerting remembers about one fingerprint."""

    receivers: dict[str, ReceiverLedger] = Field(default_factory=dict)
    pending: tuple[Pending, ...] = ()


class NotificationRecord(_Model):
    v: Literal[1] = LOG_VERSION
    kind: Literal["notification"] = KIND
    fingerprint: str
    episode: str
    alert_id: str
    rule: str
    brand: str
    state: AlertState
    receiver: str
    status: Status
    attempt: int = Field(ge=0)
    """Delivery attempts made for this alert and receiver, this one included."""
    at: AwareDatetime
    error: str | None = None
    """Why the delivery failed (redacted)."""
    reason: str | None = None
    """Why it was muted, deduplicated or deferred."""
    next_attempt_at: AwareDatetime | None = None
    ledger: Ledger
    """The fingerprint's ledger after this decision (what a restart restores)."""


def encode_record(record: NotificationRecord) -> bytes:
    return json.dumps(
        record.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def decode_record(data: bytes | str) -> NotificationRecord:
    """Parse one log record; `InvalidRecord` names what is wrong."""
    try:
        body: Any = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRecord(f"{KIND}: not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise InvalidRecord(f"{KIND}: expected a JSON object, got {type(body).__name__}")
    if body.get("kind") != KIND:
        raise InvalidRecord(f"{KIND}: kind is {body.get('kind')!r}, expected {KIND!r}")
    if body.get("v") != LOG_VERSION:
        raise InvalidRecord(f"{KIND}.v: unsupported schema version {body.get('v')!r}")
    try:
        return NotificationRecord.model_validate(body)
    except ValidationError as exc:
        raise InvalidRecord(describe_validation_error(KIND, exc)) from None
