"""The webhook notifier (transport swapped, as STYLE 11 asks) and the outbox folder."""

from __future__ import annotations

import json
import logging
from datetime import timedelta, timezone
from pathlib import Path

import httpx
import pytest

from alerting.notifiers.base import DeliveryError, Notification
from alerting.notifiers.outbox import OutboxNotifier
from alerting.notifiers.webhook import WebhookNotifier
from alerting.settings import OutboxReceiver, WebhookReceiver
from core.records import Alert

from .helpers import T0, HttpReceiver, make_alert, resolved_of

TOKEN = "Bearer tkn-5ecret-value"


def webhook(client: httpx.Client, url: str = "https://tickets.example.com/hook") -> WebhookNotifier:
    settings = WebhookReceiver.model_validate({"url": url, "headers": {"Authorization": TOKEN}})
    return WebhookNotifier("tickets", settings, client)


def test_webhook_posts_the_alert_and_its_status() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    alert = make_alert()
    webhook(client).send(Notification(alert, "tickets", T0, "http://search/?brand=acme"))
    webhook(client).send(Notification(resolved_of(alert), "tickets", T0))

    first, second = seen
    assert first.method == "POST" and str(first.url) == "https://tickets.example.com/hook"
    assert first.headers["authorization"] == TOKEN
    body = json.loads(first.content)
    assert body["version"] == 1 and body["kind"] == "stormwatch.notification"
    assert body["status"] == "firing" and body["receiver"] == "tickets"
    assert body["search_url"] == "http://search/?brand=acme"
    assert Alert.model_validate(body["alert"]) == alert  # the whole alert, round-trippable
    assert json.loads(second.content)["status"] == "resolved"


@pytest.mark.parametrize(
    ("status", "retryable"), [(401, False), (422, False), (408, True), (502, True)]
)
def test_webhook_failures(status: int, retryable: bool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = httpx.Client(
        transport=httpx.MockTransport(
            lambda r: httpx.Response(status, text=f"echo {TOKEN}, token={TOKEN.split()[1]}")
        )
    )
    with pytest.raises(DeliveryError) as err:
        webhook(client).send(Notification(make_alert(), "tickets", T0))
    assert err.value.retryable is retryable
    # even a server that echoes the header, or the token alone, back does not get it into
    # the error
    assert "tkn-5ecret-value" not in str(err.value) and "***" in str(err.value)
    assert "tkn-5ecret-value" not in caplog.text


def test_webhook_to_a_real_server(http_receiver: HttpReceiver) -> None:
    with httpx.Client() as client:
        webhook(client, http_receiver.url("/hook")).send(Notification(make_alert(), "tickets", T0))
    [req] = http_receiver.requests
    assert req.headers["Authorization"] == TOKEN and req.json()["status"] == "firing"


def outbox(path: Path) -> OutboxNotifier:
    return OutboxNotifier("outbox", OutboxReceiver(path=path), httpx.Client())


def test_outbox_writes_one_json_and_one_txt_per_notification(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    alert = make_alert()
    notifier = outbox(folder)
    notifier.send(Notification(alert, "outbox", T0, None))
    notifier.send(Notification(alert, "outbox", T0, None))  # a redelivery overwrites
    notifier.send(Notification(resolved_of(alert), "outbox", T0, None))

    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 4, names
    jsons = sorted(folder.glob("*.json"))
    firing = json.loads(jsons[0].read_text())
    assert firing["status"] == "firing" and firing["alert"]["id"] == alert.id
    assert json.loads(jsons[1].read_text())["status"] == "resolved"
    text = jsons[0].with_suffix(".txt").read_text()
    assert text.startswith("CRITICAL · acme · negative-spike") and "window count: 42" in text
    assert jsons[0].name.startswith("20260301T090000Z-acme-firing-")
    assert not list(folder.glob(".*"))  # no temporary files left behind


def test_outbox_files_are_named_in_utc_whatever_the_alerts_offset(tmp_path: Path) -> None:
    # a feed's +01:00 kept in event time must not put a file out of order
    notifier = outbox(tmp_path)
    alert = make_alert(at=T0.astimezone(timezone(timedelta(hours=1))))
    notifier.send(Notification(alert, "outbox", T0, None))
    [json_file] = tmp_path.glob("*.json")
    assert json_file.name.startswith("20260301T090000Z-")


def test_outbox_unwritable_is_a_retryable_error(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-folder"
    folder.write_text("a file where the outbox folder should be")
    with pytest.raises(DeliveryError) as err:
        outbox(folder).send(Notification(make_alert(), "outbox", T0, None))
    assert err.value.retryable and "cannot write to" in str(err.value)
