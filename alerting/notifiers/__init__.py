"""Notifiers: one module per receiver type, looked up by ``type`` in `REGISTRY`.

`build_notifiers` makes one notifier per configured receiver; every HTTP notifier shares
the one `httpx.Client` it is given (the caller owns and closes it).
"""

from __future__ import annotations

from typing import Any

import httpx

from alerting.notifiers.base import DeliveryError, Notification, Notifier
from alerting.notifiers.email import EmailNotifier
from alerting.notifiers.outbox import OutboxNotifier
from alerting.notifiers.slack import SlackNotifier
from alerting.notifiers.webhook import WebhookNotifier
from alerting.settings import AlertingSettings

REGISTRY: dict[str, type[Notifier[Any]]] = {
    cls.kind: cls for cls in (SlackNotifier, EmailNotifier, WebhookNotifier, OutboxNotifier)
}
"""Receiver ``type`` -> notifier class."""


def build_notifiers(settings: AlertingSettings, http: httpx.Client) -> dict[str, Notifier[Any]]:
    """One notifier per configured receiver, by receiver name."""
    out: dict[str, Notifier[Any]] = {}
    for name, receiver in settings.receivers.items():
        cls = REGISTRY.get(receiver.type)
        if cls is None:  # the settings union and the registry disagree: a bug, say so early
            raise LookupError(f"receiver {name!r}: no notifier for type {receiver.type!r}")
        out[name] = cls(name, receiver, http)
    return out


__all__ = [
    "REGISTRY",
    "DeliveryError",
    "EmailNotifier",
    "Notification",
    "Notifier",
    "OutboxNotifier",
    "SlackNotifier",
    "WebhookNotifier",
    "build_notifiers",
]
