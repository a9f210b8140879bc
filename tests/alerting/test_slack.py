"""Slack to a real local HTTP receiver: the Block Kit payload, status codes, secrecy."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest

from alerting import render
from alerting.notifiers.base import DeliveryError, Notification
from alerting.notifiers.slack import SlackNotifier, blocks
from alerting.settings import SlackReceiver
from core.records import Alert

from .helpers import T0, HttpReceiver, free_port, make_alert, resolved_of

TOKEN_PATH = "/services/T0TEAM/B0HOOK/xoxSecretToken123"
SEARCH = "http://127.0.0.1:8080/?brand={brand}&since={since}"


def slack(url: str, http: httpx.Client, **kw: object) -> SlackNotifier:
    return SlackNotifier("oncall", SlackReceiver.model_validate({"webhook_url": url, **kw}), http)


def note(alert: Alert) -> Notification:
    return Notification(alert, "oncall", T0, render.search_link(SEARCH, alert))


def test_firing_payload_is_block_kit(http_receiver: HttpReceiver, http: httpx.Client) -> None:
    alert = make_alert(samples=7, summary="Acme <boycott> & outrage")
    slack(http_receiver.url(TOKEN_PATH), http, channel="#crisis", username="stormwatch").send(
        note(alert)
    )

    [req] = http_receiver.requests
    assert req.path == TOKEN_PATH
    assert req.headers["Content-Type"] == "application/json"
    body = req.json()
    assert body["channel"] == "#crisis" and body["username"] == "stormwatch"
    assert body["text"].startswith("CRITICAL · acme · negative-spike")
    assert body["text"].endswith("Acme &lt;boycott&gt; &amp; outrage")  # the fallback too
    blocks = body["blocks"]
    header = blocks[0]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert "CRITICAL" in header["text"]["text"] and "acme" in header["text"]["text"]
    assert blocks[1]["text"]["text"] == "Acme &lt;boycott&gt; &amp; outrage"  # mrkdwn-escaped
    fields = [f["text"] for f in blocks[2]["fields"]]
    assert fields[:2] == ["*Severity*\nCRITICAL", "*Brand*\nacme"]
    assert "*window count*\n42" in fields and "*baseline*\n8.50" in fields
    samples = blocks[3]["text"]["text"]
    assert samples.startswith("*Sample mentions*")
    links = [line for line in samples.splitlines() if line.startswith("•")]
    assert len(links) == 5  # at most five of the seven
    assert "<https://news.example.com/acme/0|Acme outage day 0>" in links[0]
    [button] = blocks[4]["elements"]
    assert button["type"] == "button"
    assert button["url"] == "http://127.0.0.1:8080/?brand=acme&since=2026-03-01T08%3A54%3A00Z"
    assert blocks[-1]["type"] == "context"


def test_resolved_renders_differently(http_receiver: HttpReceiver, http: httpx.Client) -> None:
    alert = resolved_of(make_alert(), after=timedelta(hours=1, minutes=20))
    slack(http_receiver.url(TOKEN_PATH), http).send(note(alert))
    blocks = http_receiver.requests[0].json()["blocks"]
    assert blocks[0]["text"]["text"].startswith(":white_check_mark: RESOLVED")
    fields = [f["text"] for f in blocks[2]["fields"]]
    assert "*Lasted*\n1h 20m" in fields
    assert not any("Sample mentions" in b.get("text", {}).get("text", "") for b in blocks)
    assert "style" not in blocks[3]["elements"][0]  # no red button for good news


@pytest.mark.parametrize(
    ("status", "body", "retryable"),
    [
        (400, "invalid_payload", False),
        (403, "invalid_token", False),
        (404, "no_service", False),
        (410, "channel_is_archived", False),
        (429, "rate_limited", True),
        (500, "internal_error", True),
        (503, "", True),
    ],
)
def test_status_codes_decide_retryable(
    http_receiver: HttpReceiver, http: httpx.Client, status: int, body: str, retryable: bool
) -> None:
    http_receiver.reply(status, body)
    with pytest.raises(DeliveryError) as err:
        slack(http_receiver.url(TOKEN_PATH), http).send(note(make_alert()))
    assert err.value.retryable is retryable
    assert f"HTTP {status}" in str(err.value)
    assert body in str(err.value)
    assert TOKEN_PATH not in str(err.value)


def test_retry_after_is_passed_on(http_receiver: HttpReceiver, http: httpx.Client) -> None:
    http_receiver.reply(429, "rate_limited", {"Retry-After": "30"})
    with pytest.raises(DeliveryError) as err:
        slack(http_receiver.url(TOKEN_PATH), http).send(note(make_alert()))
    assert err.value.retryable and err.value.retry_after == 30.0


def test_unreachable_is_retryable_with_a_clear_error_and_no_secret(
    http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}{TOKEN_PATH}"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DeliveryError) as err:
        slack(url, http).send(note(make_alert()))
    message = str(err.value)
    assert err.value.retryable
    assert message.startswith("slack receiver 'oncall': cannot reach 127.0.0.1:")
    assert "ConnectError" in message
    assert TOKEN_PATH not in message and "xoxSecretToken123" not in message
    assert "xoxSecretToken123" not in caplog.text


def test_the_webhook_url_never_reaches_the_logs(
    http_receiver: HttpReceiver, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    # httpx logs every request URL at INFO; for Slack the URL is the credential.
    caplog.set_level(logging.DEBUG)
    slack(http_receiver.url(TOKEN_PATH), http).send(note(make_alert()))
    assert http_receiver.requests  # it was sent
    assert "HTTP Request: POST" in caplog.text  # and httpx did log it ...
    assert "xoxSecretToken123" not in caplog.text  # ... masked


def test_timeout_is_retryable() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    client = httpx.Client(transport=httpx.MockTransport(hang))
    with pytest.raises(DeliveryError) as err:
        slack("https://hooks.slack.com" + TOKEN_PATH, client).send(note(make_alert()))
    assert err.value.retryable
    assert "no answer from hooks.slack.com within 10s" in str(err.value)


def test_a_late_page_says_so_and_a_timely_one_does_not() -> None:
    alert = make_alert()  # fired at T0, by its mentions' time
    timely = blocks(Notification(alert, "oncall", T0 + render.LATE_AFTER - timedelta(seconds=1)))
    late = blocks(Notification(alert, "oncall", T0 + timedelta(minutes=40)))

    assert not any("Late" in f["text"] for f in timely[2]["fields"])
    assert "late" not in timely[-1]["elements"][0]["text"]
    fields = [f["text"] for f in late[2]["fields"]]
    assert fields[:3] == [
        "*Severity*\nCRITICAL",
        "*Brand*\nacme",
        "*Late*\nsent 40m after it fired",
    ]
    assert (
        "fired at 2026-03-01T09:00:00Z: its mentions reached stormwatch late"
        in (late[-1]["elements"][0]["text"])
    )
    resolution = blocks(Notification(resolved_of(alert), "oncall", T0 + timedelta(hours=3)))
    assert not any("Late" in f["text"] for f in resolution[2]["fields"])  # resolutions: never


def test_more_figures_than_a_section_takes_go_in_further_sections() -> None:
    # Slack takes 10 fields a section: a spike page's min_* thresholds were cut off
    figures = {f"figure_{i}": float(i) for i in range(12)}
    alert = make_alert().model_copy(update={"figures": figures})
    sections = [b for b in blocks(note(alert)) if "fields" in b]
    shown = [f["text"].split("\n")[0] for s in sections for f in s["fields"]]
    assert [len(s["fields"]) for s in sections] == [10, 4]
    assert shown[-1] == "*figure 11*"


def test_samples_are_cut_between_lines_and_link_only_http() -> None:
    base = make_alert(samples=5)
    long = "https://news.example.com/acme?p=" + "x" * 700  # five of these pass 3,000
    scripted = base.samples[0].model_copy(update={"url": "javascript:alert(1)"})
    others = [s.model_copy(update={"url": long}) for s in base.samples[1:]]
    alert = base.model_copy(update={"samples": (scripted, *others)})
    [section] = [b for b in blocks(note(alert)) if "Sample" in str(b.get("text"))]
    text = section["text"]["text"]
    assert len(text) <= 3000
    assert all(line.count("<") == line.count(">") for line in text.split("\n"))  # whole links
    assert "javascript:" not in text and "Acme outage day 0" in text  # its title, unlinked
