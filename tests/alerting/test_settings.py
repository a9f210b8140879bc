from __future__ import annotations

import typing
from datetime import timedelta
from pathlib import Path

import pytest

from alerting.notifiers import REGISTRY
from alerting.settings import (
    AlertingSettings,
    EmailReceiver,
    OutboxReceiver,
    Receiver,
    Silence,
    SlackReceiver,
    WebhookReceiver,
)
from core.config import ConfigError, parse_yaml, validate
from core.records import Severity

from .helpers import make_alert

EXAMPLE = """\
receivers:
  oncall-slack:
    type: slack
    webhook_url: ${SLACK_URL}
    channel: "#crisis"
  comms-mail:
    type: email
    host: smtp.example.com
    username: stormwatch
    password: ${SMTP_PASSWORD}
    from_addr: stormwatch@example.com
    to: [comms@example.com, oncall@example.com]
  tickets:
    type: webhook
    url: https://tickets.example.com/hooks/stormwatch
    headers: {Authorization: "Bearer ${TOKEN}"}
  outbox:
    type: outbox
    path: var/outbox
default_receivers: [oncall-slack, outbox]
repeat_interval: 2h
search_url: "http://127.0.0.1:8080/?brand={brand}&since={since}"
retry: {max_attempts: 3, initial_backoff: 5s, max_backoff: 1m, jitter: 0s}
silences:
  - brand: acme
    rule: "volume-*"
    ends_at: 2026-03-01T08:00:00Z
"""
ENV = {
    "SLACK_URL": "https://hooks.slack.com/services/T1/B2/very-secret",
    "SMTP_PASSWORD": "hunter2-smtp",
    "TOKEN": "tok-123456",
}


def load(text: str, env: dict[str, str] | None = None) -> AlertingSettings:
    data, lines = parse_yaml(text, "stormwatch.yaml", env if env is not None else ENV)
    return validate(AlertingSettings, data, "stormwatch.yaml", lines)


def test_example_loads_into_typed_frozen_models() -> None:
    s = load(EXAMPLE)
    assert isinstance(s.receivers["oncall-slack"], SlackReceiver)
    assert isinstance(s.receivers["comms-mail"], EmailReceiver)
    assert isinstance(s.receivers["tickets"], WebhookReceiver)
    assert isinstance(s.receivers["outbox"], OutboxReceiver)
    assert s.repeat_interval == timedelta(hours=2)
    assert s.retry.max_attempts == 3 and s.retry.initial_backoff == timedelta(seconds=5)
    mail = s.receivers["comms-mail"]
    assert isinstance(mail, EmailReceiver)
    assert mail.effective_port == 587 and mail.starttls and not mail.ssl
    with pytest.raises(Exception, match="frozen"):
        s.repeat_interval = timedelta(0)  # type: ignore[misc]


def test_secrets_never_print() -> None:
    s = load(EXAMPLE)
    shown = repr(s) + str(s) + s.model_dump_json()
    for secret in ENV.values():
        assert secret not in shown


def test_defaults_are_the_embedded_outbox() -> None:
    s = AlertingSettings()
    assert s.default_receivers == () and s.fallback_receivers() == ("outbox",)
    assert isinstance(s.receivers["outbox"], OutboxReceiver)
    assert s.repeat_interval == timedelta(hours=4)


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        (
            "receivers:\n  x:\n    type: pager\n",
            2,
            "receivers.x: Input tag 'pager' found using 'type' does not match",
        ),
        ("default_receivers: [nobody]\n", None, "default_receivers: no receiver named nobody"),
        (
            "receivers:\n  m:\n    type: email\n    host: h\n    from_addr: a@b.c\n    to: [x@y.z]\n    ssl: true\n    starttls: true\ndefault_receivers: [m]\n",
            None,
            "ssl (implicit TLS) and starttls exclude each other",
        ),
        (
            "receivers:\n  m:\n    type: email\n    host: h\n    from_addr: a@b.c\n    to: [x@y.z]\n    username: u\ndefault_receivers: [m]\n",
            None,
            "username and password go together",
        ),
        ("search_url: 'http://x/?q={query}'\n", None, "unknown placeholder 'query'"),
        (
            "search_url: 'http://x/?since={since:%Y-%m-%d}'\n",
            None,
            "search_url: Invalid format specifier",
        ),
        ("search_url: 'http://x/?q={}'\n", None, "search_url: Replacement index 0"),
        (
            "receivers:\n  m:\n    type: email\n    host: h\n    port: 465\n    from_addr: a@b.c\n    to: [x@y.z]\ndefault_receivers: [m]\n",
            None,
            "port 465 is SMTPS: set ssl: true",
        ),
        (
            "receivers:\n  s:\n    type: slack\n    webhook_url: 'https://hooks.example/T1 B2'\ndefault_receivers: [s]\n",
            None,
            "webhook_url must not contain spaces or line breaks",
        ),
        (
            "retry: {initial_backoff: 1m, max_backoff: 10s}\n",
            1,
            "max_backoff must be at least initial_backoff",
        ),
        ("silences:\n  - comment: everything\n", 2, "a silence needs at least one of"),
        ("repeat_interval: soon\n", 1, "is not a duration"),
    ],
)
def test_invalid_settings_name_line_and_reason(text: str, line: int | None, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(text)
    assert expected in str(err.value)
    if line is not None:
        assert err.value.line == line


def test_a_bad_webhook_url_error_does_not_repeat_the_secret() -> None:
    secret = "hooks.slack.com/services/T1/B2/very-secret"
    text = (
        "receivers:\n  s:\n    type: slack\n    webhook_url: "
        + secret
        + "\ndefault_receivers: [s]\n"
    )
    with pytest.raises(ConfigError) as err:
        load(text)
    assert "webhook_url must be an http(s) URL" in str(err.value)
    assert secret not in str(err.value)


def test_a_webhook_url_read_from_a_file_loses_its_line_break() -> None:
    text = (
        "receivers:\n  s:\n    type: slack\n    webhook_url: ${SLACK_URL}\ndefault_receivers: [s]\n"
    )
    settings = load(text, {"SLACK_URL": "https://hooks.example/T1/B2\n"})
    slack = settings.receivers["s"]
    assert isinstance(slack, SlackReceiver)
    assert slack.webhook_url.get_secret_value() == "https://hooks.example/T1/B2"


def test_ssl_alone_means_smtps_on_465() -> None:
    r = EmailReceiver(host="h", from_addr="a@b.c", to=("x@y.z",), ssl=True)
    assert not r.starttls and r.effective_port == 465


def test_every_receiver_type_has_a_notifier() -> None:
    union = typing.get_args(typing.get_args(Receiver)[0])
    types = {cls.model_fields["type"].default for cls in union}
    assert types == set(REGISTRY) == {"slack", "email", "webhook", "outbox"}


def test_silence_matching_and_window() -> None:
    s = Silence.model_validate(
        {
            "brand": "acme",
            "rule": "negative-*",
            "labels": {"channel": "tw*"},
            "starts_at": "2026-03-01T08:00:00Z",
            "ends_at": "2026-03-01T10:00:00Z",
        }
    )
    alert = make_alert(labels={"channel": "twitter"})
    assert s.matches(alert)
    assert not s.matches(make_alert(labels={"channel": "rss"}))
    assert not s.matches(make_alert(labels={}))
    assert not s.matches(make_alert(brand="globex", labels={"channel": "twitter"}))
    assert s.active(alert.at)
    assert not s.active(alert.at + timedelta(hours=1))  # ends_at is exclusive
    sev = Silence(severity=Severity.INFO)
    assert not sev.matches(alert) and sev.matches(make_alert(severity=Severity.INFO))


def test_unknown_receivers_helper() -> None:
    s = AlertingSettings(receivers={"o": OutboxReceiver(path=Path("x"))}, default_receivers=("o",))
    assert s.unknown_receivers(("o", "pager")) == ["pager"]


def test_json_schema_comes_from_the_models() -> None:
    schema = AlertingSettings.model_json_schema()
    receiver = schema["properties"]["receivers"]["additionalProperties"]
    assert set(receiver["discriminator"]["mapping"]) == {"slack", "email", "webhook", "outbox"}
    slack = schema["$defs"]["SlackReceiver"]["properties"]["webhook_url"]
    assert slack.get("writeOnly") is True and slack.get("format") == "password"
