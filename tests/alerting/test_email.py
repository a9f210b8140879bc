"""E-mail to a real local SMTP server (aiosmtpd): MIME, AUTH, STARTTLS, SMTPS, failures."""

from __future__ import annotations

import email
import email.policy
import logging
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerting import render
from alerting.notifiers.base import DeliveryError, Notification
from alerting.notifiers.email import EmailNotifier, build_message
from alerting.settings import EmailReceiver

from .helpers import PASSWORD, T0, USER, Mailbox, free_port, make_alert, resolved_of

TO = ("comms@example.com", "oncall@example.com")


def mailer(port: int, **kw: Any) -> EmailNotifier:
    settings = EmailReceiver.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "starttls": False,
            "from_addr": "stormwatch@example.com",
            "to": TO,
            **kw,
        }
    )
    return EmailNotifier("comms", settings, httpx.Client())


def note(alert: Any = None) -> Notification:
    alert = alert or make_alert(summary="Acme <boycott> & outrage")
    search = render.search_link("http://127.0.0.1:8080/?brand={brand}", alert)
    return Notification(alert, "comms", T0, search)


def parse(mailbox: Mailbox) -> EmailMessage:
    [envelope] = mailbox.messages
    msg = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_multipart_text_and_html_with_subject_and_recipients(smtp_server: Mailbox) -> None:
    mailer(smtp_server.port).send(note())
    [envelope] = smtp_server.messages
    assert envelope.mail_from == "stormwatch@example.com"
    assert envelope.rcpt_tos == list(TO)
    msg = parse(smtp_server)
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["Subject"] == (
        "[stormwatch] CRITICAL · acme · negative-spike: Acme <boycott> & outrage"
    )
    assert msg["To"] == ", ".join(TO)
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    text, markup = plain.get_content(), html.get_content()
    assert "Acme <boycott> & outrage" in text  # plain text is not escaped
    assert "Acme &lt;boycott&gt; &amp; outrage" in markup  # HTML is autoescaped
    assert "https://news.example.com/acme/0" in text
    assert '<a href="https://news.example.com/acme/0">' in markup
    assert "http://127.0.0.1:8080/?brand=acme" in text and "window count: 42" in text
    assert smtp_server.logins == []  # no AUTH configured, none attempted


def test_resolved_mail_threads_under_the_firing(smtp_server: Mailbox) -> None:
    firing = make_alert()
    notifier = mailer(smtp_server.port)
    notifier.send(note(firing))
    notifier.send(note(resolved_of(firing)))
    first, second = (
        email.message_from_bytes(e.original_content or b"", policy=email.policy.default)
        for e in smtp_server.messages
    )
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["Subject"].startswith("[stormwatch] RESOLVED · acme")


def test_auth_over_plain_smtp(smtp_server: Mailbox) -> None:
    mailer(smtp_server.port, username=USER, password=PASSWORD).send(note())
    assert smtp_server.logins and smtp_server.logins[0][0] == USER
    assert len(smtp_server.messages) == 1


def test_wrong_password_is_not_retryable_and_not_shown(
    smtp_server: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DeliveryError) as err:
        mailer(smtp_server.port, username=USER, password="wr0ng-pa55word").send(note())
    assert not err.value.retryable
    assert "authentication failed: 535" in str(err.value)
    assert "wr0ng-pa55word" not in str(err.value) and "wr0ng-pa55word" not in caplog.text
    assert smtp_server.messages == []


def test_starttls_then_auth(smtp_starttls_server: Mailbox, tls_files: tuple[Path, Path]) -> None:
    notifier = mailer(
        smtp_starttls_server.port,
        starttls=True,
        ca_file=str(tls_files[0]),
        username=USER,
        password=PASSWORD,
    )
    notifier.send(note())
    assert smtp_starttls_server.logins[0][0] == USER
    assert len(smtp_starttls_server.messages) == 1


def test_server_requiring_starttls_refuses_plain(smtp_starttls_server: Mailbox) -> None:
    with pytest.raises(DeliveryError) as err:
        mailer(smtp_starttls_server.port, starttls=False).send(note())
    assert not err.value.retryable  # 530 Must issue a STARTTLS command first
    assert "530" in str(err.value)


def test_untrusted_certificate_is_not_retryable(smtp_starttls_server: Mailbox) -> None:
    with pytest.raises(DeliveryError) as err:
        mailer(smtp_starttls_server.port, starttls=True).send(note())  # system CAs only
    assert not err.value.retryable
    assert "TLS certificate not trusted" in str(err.value)


def test_implicit_tls(smtps_server: Mailbox, tls_files: tuple[Path, Path]) -> None:
    mailer(
        smtps_server.port, ssl=True, ca_file=str(tls_files[0]), username=USER, password=PASSWORD
    ).send(note())
    assert len(smtps_server.messages) == 1 and smtps_server.logins[0][0] == USER


@pytest.mark.parametrize(
    ("reply", "retryable"), [("550 no such user", False), ("450 mailbox busy", True)]
)
def test_refused_recipients(smtp_server: Mailbox, reply: str, retryable: bool) -> None:
    smtp_server.reject_rcpt = reply
    with pytest.raises(DeliveryError) as err:
        mailer(smtp_server.port).send(note())
    assert err.value.retryable is retryable
    assert "refused every recipient" in str(err.value) and reply[:3] in str(err.value)


def test_a_mail_some_recipients_refused_is_sent_and_the_refusal_logged(
    smtp_server: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    # failing it would drop its resolved and mail the others again on a redelivery
    smtp_server.reject_rcpt, smtp_server.reject_only = "550 no such user", TO[1]
    mailer(smtp_server.port).send(note())
    [envelope] = smtp_server.messages
    assert envelope.rcpt_tos == [TO[0]]
    assert f"refused some recipients, sent to the others: {TO[1]} (550)" in caplog.text


def test_ssl_against_a_plain_port_is_not_retried(smtp_server: Mailbox) -> None:
    with pytest.raises(DeliveryError) as err:
        mailer(smtp_server.port, ssl=True).send(note())
    assert err.value.retryable is False
    assert "TLS handshake failed" in str(err.value) and "match this port" in str(err.value)


def test_unreachable_smtp_is_retryable_with_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    with pytest.raises(DeliveryError) as err:
        mailer(port, username=USER, password=PASSWORD).send(note())
    assert err.value.retryable
    assert str(err.value).startswith(f"email receiver 'comms': cannot reach 127.0.0.1:{port}")
    assert "ConnectionRefusedError" in str(err.value)
    assert PASSWORD not in str(err.value) and PASSWORD not in caplog.text


def test_a_late_page_says_when_it_fired_in_text_and_html() -> None:
    alert = make_alert()  # fired at T0
    late = Notification(alert, "comms", T0 + timedelta(hours=1, minutes=5))
    text, markup = render.text(late), render.html(late)
    assert "Late:      sent 1h 5m after it fired at 2026-03-01T09:00:00Z" in text
    assert (
        '<th align="left">Late</th><td>sent 1h 5m after it fired at 2026-03-01T09:00:00Z' in markup
    )
    timely = Notification(alert, "comms", T0 + timedelta(minutes=2))
    assert "Late" not in render.text(timely) and "Late" not in render.html(timely)


def test_a_line_break_in_the_summary_does_not_break_the_subject() -> None:
    # a keyword phrase from a YAML block scalar ended in one: every mail page failed
    alert = make_alert(summary="acme: 1 mentions with product recall\n (min 1)")
    msg = build_message(note(alert), mailer(25).settings)
    assert "\n" not in str(msg["Subject"]) and "product recall (min 1)" in str(msg["Subject"])


def test_the_search_link_reaches_back_a_window_and_only_http_links_are_linked() -> None:
    alert = make_alert(samples=1).model_copy(
        update={"figures": {"count": 50, "window_seconds": 600.0}}
    )
    link = render.search_link("http://s/?since={since}", alert)
    assert link == "http://s/?since=2026-03-01T08%3A50%3A00Z"  # fired 09:00, window 10m
    sample = alert.samples[0].model_copy(update={"url": "javascript:alert(1)"})
    page = render.html(note(alert.model_copy(update={"samples": (sample,)})))
    assert "javascript:" not in page
