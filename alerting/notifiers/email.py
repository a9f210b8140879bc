"""E-mail through an SMTP relay: multipart/alternative, plain text and HTML.

STARTTLS or implicit TLS (``ssl``) and AUTH as configured; certificates are verified
(against ``ca_file`` when given). SMTP 4xx replies, dropped connections and unreachable
servers are retryable; 5xx replies, failed TLS verification or handshakes and a server
lacking a required extension are not. A mail some recipients refused is sent (the
refusals are logged). A firing and its resolved mail share a thread
(``In-Reply-To``).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime

from alerting import render
from alerting.notifiers.base import Notification, Notifier
from alerting.settings import EmailReceiver
from core.records import AlertState

log = logging.getLogger(__name__)


def build_message(n: Notification, settings: EmailReceiver) -> EmailMessage:
    alert = n.alert
    domain = settings.from_addr.rpartition("@")[2] or "stormwatch"
    msg = EmailMessage()
    prefix = f"{settings.subject_prefix} " if settings.subject_prefix else ""
    # one line: a line break in a header is refused (and would fail every page)
    msg["Subject"] = " ".join(f"{prefix}{render.headline(alert)}: {alert.summary}".split())[:250]
    msg["From"] = settings.from_addr
    msg["To"] = ", ".join(settings.to)
    msg["Date"] = format_datetime(n.sent_at)
    # Stable ids: a retried mail keeps its id, and the resolved mail threads under the firing.
    msg["Message-ID"] = f"<{alert.episode}.{alert.state.value}@{domain}>"
    if alert.state is AlertState.RESOLVED:
        msg["In-Reply-To"] = f"<{alert.episode}.firing@{domain}>"
        msg["References"] = msg["In-Reply-To"]
    msg["X-Stormwatch-Fingerprint"] = alert.fingerprint
    msg.set_content(render.text(n))
    msg.add_alternative(render.html(n), subtype="html")
    return msg


class EmailNotifier(Notifier[EmailReceiver]):
    kind = "email"

    def secrets(self) -> tuple[str, ...]:
        password = self.settings.password
        return (password.get_secret_value(),) if password else ()

    def _tls(self) -> ssl.SSLContext:
        cafile = str(self.settings.ca_file) if self.settings.ca_file else None
        return ssl.create_default_context(cafile=cafile)

    def _connect(self) -> smtplib.SMTP:
        cfg = self.settings
        timeout = cfg.timeout.total_seconds()
        if cfg.ssl:
            return smtplib.SMTP_SSL(
                cfg.host, cfg.effective_port, timeout=timeout, context=self._tls()
            )
        return smtplib.SMTP(cfg.host, cfg.effective_port, timeout=timeout)

    def send(self, notification: Notification) -> None:
        cfg = self.settings
        msg = build_message(notification, cfg)
        where = f"{cfg.host}:{cfg.effective_port}"
        try:
            with self._connect() as smtp:
                if cfg.starttls:
                    smtp.starttls(context=self._tls())
                if cfg.username and cfg.password:
                    smtp.login(cfg.username, cfg.password.get_secret_value())
                refused = smtp.send_message(msg, from_addr=cfg.from_addr, to_addrs=list(cfg.to))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = ", ".join(f"{rcpt} ({code})" for rcpt, (code, _) in exc.recipients.items())
            temporary = all(400 <= code < 500 for code in codes)
            raise self.error(
                f"{where} refused every recipient: {detail}", retryable=temporary
            ) from None
        except smtplib.SMTPResponseException as exc:
            what = (
                "authentication failed"
                if isinstance(exc, smtplib.SMTPAuthenticationError)
                else "rejected the mail"
            )
            reply = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            raise self.error(
                f"{where} {what}: {exc.smtp_code} {' '.join(reply.split())}",
                retryable=400 <= exc.smtp_code < 500,
            ) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise self.error(f"{where} closed the connection: {exc}", retryable=True) from None
        except smtplib.SMTPException as exc:
            # e.g. no STARTTLS or AUTH offered: a configuration mismatch, not a hiccup.
            raise self.error(f"{where}: {exc}", retryable=False) from None
        except ssl.SSLCertVerificationError as exc:
            raise self.error(
                f"{where}: TLS certificate not trusted: {exc.verify_message}", retryable=False
            ) from None
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError) as exc:
            raise self.error(f"{where}: TLS connection cut: {exc}", retryable=True) from None
        except ssl.SSLError as exc:
            # e.g. WRONG_VERSION_NUMBER: ssl set against a plain or STARTTLS port
            raise self.error(
                f"{where}: TLS handshake failed ({exc.reason}): does ssl (port 465) or "
                "starttls (587) match this port?",
                retryable=False,
            ) from None
        except OSError as exc:
            raise self.error(
                f"cannot reach {where}: {type(exc).__name__}: {exc}", retryable=True
            ) from None
        if refused:
            # Some recipients took it: the page is sent (failing it would drop its resolved
            # and mail them again on a redelivery); the others are named in the log.
            detail = ", ".join(f"{rcpt} ({code})" for rcpt, (code, _) in refused.items())
            log.warning(
                "email receiver %r: %s refused some recipients, sent to the others: %s",
                self.name,
                where,
                detail,
            )
