"""A generic webhook: the notification as JSON (`alerting.render.payload`), POSTed.

Body: ``{"version": 1, "kind": "stormwatch.notification", "receiver", "status"
("firing" | "resolved"), "headline", "search_url", "sent_at", "alert": {...}}``.
Configured headers (tokens) are sent with every request and never shown.
"""

from __future__ import annotations

from alerting import render
from alerting.notifiers.base import HttpNotifier, Notification
from alerting.settings import WebhookReceiver


class WebhookNotifier(HttpNotifier[WebhookReceiver]):
    kind = "webhook"

    def secrets(self) -> tuple[str, ...]:
        return tuple(v.get_secret_value() for v in self.settings.headers.values())

    def send(self, notification: Notification) -> None:
        headers = {k: v.get_secret_value() for k, v in self.settings.headers.items()}
        self.post_json(
            self.settings.url,
            render.payload(notification),
            timeout=self.settings.timeout,
            headers=headers,
        )
