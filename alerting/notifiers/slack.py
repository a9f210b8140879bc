"""Slack incoming webhooks, with a Block Kit message.

Firing: a header with severity and brand, the summary, the figures as fields, up to five
sample mentions as links, and a button to the pre-filtered search. Resolved: a green tick,
how long it lasted, no samples. Slack answers 200 ``ok``; 429 and 5xx are retried, other
4xx (``invalid_payload``, ``no_service``, ``channel_is_archived``) are not.
"""

from __future__ import annotations

from typing import Any

from alerting import render
from alerting.notifiers.base import HttpNotifier, Notification
from alerting.settings import SlackReceiver
from core.records import AlertState, Severity

EMOJI = {
    Severity.CRITICAL: ":rotating_light:",
    Severity.WARNING: ":warning:",
    Severity.INFO: ":information_source:",
}
RESOLVED_EMOJI = ":white_check_mark:"
MAX_FIELDS = 10  # Slack's limit per section
HEADER_LIMIT = 150  # Slack's limit for a header's text
TEXT_LIMIT = 3000  # Slack's limit for a section's text


def escape(text: str) -> str:
    """Slack mrkdwn escaping: only ``&``, ``<`` and ``>`` are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(url: str, label: str) -> str:
    if not render.link_safe(url):
        return escape(label)
    # '|' and '>' would end the link early; percent-encoding keeps the URL working.
    target = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{target}|{escape(label)}>"


def _lines_within(head: str, lines: list[str], limit: int) -> str:
    """``head`` and as many whole ``lines`` as fit in ``limit`` characters: clipping the
    joined text could cut a link in half."""
    text = head
    for line in lines:
        if len(text) + 1 + len(line) > limit:
            break
        text += "\n" + line
    return text


def blocks(n: Notification) -> list[dict[str, Any]]:
    alert = n.alert
    resolved = alert.state is AlertState.RESOLVED
    emoji = RESOLVED_EMOJI if resolved else EMOJI[alert.severity]
    out: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _clip(f"{emoji} {render.headline(alert)}", HEADER_LIMIT),
                "emoji": True,
            },
        },
        {
            "type": "section",
            # clipped before escaping: an escape ("&amp;") is never cut in half
            "text": {"type": "mrkdwn", "text": escape(_clip(alert.summary, TEXT_LIMIT // 5))},
        },
    ]
    fields = [
        ("Severity", alert.severity.value.upper()),
        ("Brand", alert.brand),
        *render.figures(alert),
    ]
    if resolved:
        fields.insert(2, ("Lasted", render.lasted(alert)))
    if (late := render.late(n)) is not None:
        fields.insert(2, ("Late", f"sent {late} after it fired"))
    texts = [
        {"type": "mrkdwn", "text": f"*{escape(label)}*\n{escape(value)}"} for label, value in fields
    ]
    # Slack takes at most MAX_FIELDS fields a section: the rest go in the next ones
    out += [
        {"type": "section", "fields": texts[i : i + MAX_FIELDS]}
        for i in range(0, len(texts), MAX_FIELDS)
    ]
    if not resolved and alert.samples:
        lines = []
        for s in render.samples(alert):
            title = render.sample_title(s)
            shown = _link(s.url, title) if s.url else escape(title)
            lines.append(f"• {shown} — {escape(s.source or 'unknown')} · {s.sentiment.value}")
        text = _lines_within("*Sample mentions*", lines, TEXT_LIMIT)
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if n.search_url:
        out.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in search"},
                        "url": n.search_url,
                        "action_id": "open_search",
                        **({} if resolved else {"style": "danger"}),
                    }
                ],
            }
        )
    since = render.stamp(alert.started_at)
    note = f"rule `{escape(alert.rule)}` ({escape(alert.rule_type)}) · since {since}"
    if late is not None:
        note += f" · fired at {render.stamp(alert.at)}: {render.LATE_WHY}"
    out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return out


def message(n: Notification, settings: SlackReceiver) -> dict[str, Any]:
    """The webhook body; ``text`` is the fallback shown in notifications."""
    body: dict[str, Any] = {
        "text": escape(f"{render.headline(n.alert)}: {n.alert.summary}"),
        "blocks": blocks(n),
    }
    if settings.channel:
        body["channel"] = settings.channel
    if settings.username:
        body["username"] = settings.username
    return body


class SlackNotifier(HttpNotifier[SlackReceiver]):
    kind = "slack"

    def secrets(self) -> tuple[str, ...]:
        url = self.settings.webhook_url.get_secret_value()
        # httpx may log the URL normalised; the path alone is the token, mask it too.
        path = url.split("://", 1)[-1].partition("/")[2]
        return (url, f"/{path}") if len(path) >= 8 else (url,)

    def send(self, notification: Notification) -> None:
        self.post_json(
            self.settings.webhook_url.get_secret_value(),
            message(notification, self.settings),
            timeout=self.settings.timeout,
        )
