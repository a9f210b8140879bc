"""What a notification says, shared by the notifiers: headline, figures, samples, links.

Everything here is a pure function of the `Notification`, so every receiver tells the
same story and the rendering is tested without sending anything.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from alerting.notifiers.base import Notification
from alerting.templates import ENV
from core.records import Alert, AlertState, SampleMention, Severity

MAX_SAMPLES = 5
LATE_AFTER = timedelta(minutes=10)
"""A firing alert sent this long or longer after it fired (in the mentions' own time) says
that it is late: its mentions reached stormwatch late (a backlog after downtime or a
stall, a slow source) or its delivery was retried. Sources polled every few minutes put
minutes between a post and its page anyway."""
LATE_WHY = (
    "its mentions reached stormwatch late (a backlog, a slow source), delivery was "
    "retried, or a silence or the repeat interval held it back"
)
"""Why a page can be late; the page says which of these it was not able to tell."""
COLOURS = {Severity.CRITICAL: "#b00020", Severity.WARNING: "#c77700", Severity.INFO: "#1f6feb"}
RESOLVED_COLOUR = "#2e7d32"


def search_link(template: str | None, alert: Alert) -> str | None:
    """The pre-filtered search URL for ``alert`` (placeholders: settings.SEARCH_URL_FIELDS).

    ``since`` reaches back a window before the episode started (the rule's
    ``window_seconds`` figure, where it has one) and to the earliest sample, so the
    mentions that made the window fire are in the result; ``until`` is the resolve time
    (empty while firing).
    """
    if template is None:
        return None
    window = timedelta(seconds=alert.figures.get("window_seconds", 0))
    since = min([alert.started_at - window, *(s.published_at for s in alert.samples)])
    until = stamp(alert.at) if alert.state is AlertState.RESOLVED else ""
    values = {
        "brand": alert.brand,
        "rule": alert.rule,
        "severity": alert.severity.value,
        "fingerprint": alert.fingerprint,
        "since": stamp(since),
        "until": until,
    }
    return template.format(**{k: quote(v, safe="") for k, v in values.items()})


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def headline(alert: Alert) -> str:
    """``CRITICAL · acme · negative-spike`` (``RESOLVED · ...`` once resolved)."""
    what = "RESOLVED" if alert.state is AlertState.RESOLVED else alert.severity.value.upper()
    return f"{what} · {alert.brand} · {alert.rule}"


def figure(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def figures(alert: Alert) -> list[tuple[str, str]]:
    """The rule's figures as (label, formatted value), in the rule's order."""
    return [(name.replace("_", " "), figure(value)) for name, value in alert.figures.items()]


def samples(alert: Alert) -> list[SampleMention]:
    return list(alert.samples[:MAX_SAMPLES])


def sample_title(sample: SampleMention, limit: int = 120) -> str:
    text = " ".join((sample.title or sample.text or sample.url or sample.id).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def lasted(alert: Alert) -> str:
    return span(alert.at - alert.started_at)


def late(n: Notification) -> str | None:
    """How late a firing alert is sent (``40m``), when it is `LATE_AFTER` or more after it
    fired; None for a timely one and for resolutions."""
    if n.alert.state is AlertState.RESOLVED or n.sent_at - n.alert.at < LATE_AFTER:
        return None
    return span(n.sent_at - n.alert.at)


def span(length: timedelta) -> str:
    """``1d 2h 5m``; seconds only below a minute."""
    seconds = int(max(timedelta(0), length).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return " ".join(parts) or f"{seconds}s"


def context(n: Notification) -> dict[str, Any]:
    """The values the templates see."""
    alert = n.alert
    resolved = alert.state is AlertState.RESOLVED
    return {
        "headline": headline(alert),
        "summary": alert.summary,
        "brand": alert.brand,
        "rule": alert.rule,
        "rule_type": alert.rule_type,
        "severity": alert.severity.value,
        "resolved": resolved,
        "colour": RESOLVED_COLOUR if resolved else COLOURS[alert.severity],
        "started_at": stamp(alert.started_at),
        "at": stamp(alert.at),
        "lasted": lasted(alert),
        "late": late(n),
        "late_why": LATE_WHY,
        "figures": figures(alert),
        "samples": [
            {
                "title": sample_title(s),
                "url": s.url if link_safe(s.url) else None,
                "source": s.source or "unknown source",
                "sentiment": s.sentiment.value,
            }
            for s in ([] if resolved else samples(alert))
        ],
        "search_url": n.search_url,
        "fingerprint": alert.fingerprint,
    }


def text(n: Notification) -> str:
    return ENV.get_template("message.txt").render(context(n))


def html(n: Notification) -> str:
    return ENV.get_template("message.html").render(context(n))


def payload(n: Notification) -> dict[str, Any]:
    """The JSON document of a notification (webhook body, outbox file)."""
    return {
        "version": 1,
        "kind": "stormwatch.notification",
        "receiver": n.receiver,
        "status": n.alert.state.value,
        "headline": headline(n.alert),
        "search_url": n.search_url,
        "sent_at": n.sent_at.isoformat(),
        "alert": n.alert.model_dump(mode="json"),
    }


def link_safe(url: str | None) -> bool:
    """Whether ``url`` may be a link on a page: http(s) only (not javascript:, tag:)."""
    return url is not None and url.lower().startswith(("https://", "http://"))


def safe_name(text: str) -> str:
    """A file-name-safe rendering of ``text`` (letters, digits, ``-``, ``_``, ``.``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "_"
