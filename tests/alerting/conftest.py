"""Fixtures for the alerting tests: alerts, a real local HTTP receiver, a real SMTP server."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd import smtp as smtpd
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from core.clock import ManualClock

from .helpers import PASSWORD, T0, USER, HttpReceiver, Mailbox, Received, free_port


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


# -- a real HTTP receiver -------------------------------------------------------------
@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
            status, text, headers = receiver.replies.pop(0) if receiver.replies else (200, "ok", {})
            data = text.encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


# -- a real SMTP server -----------------------------------------------------------------
def _authenticator(mailbox: Mailbox) -> Callable[..., AuthResult]:
    def check(
        server: smtpd.SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        ok = (login, password) == (USER, PASSWORD)
        if ok:
            mailbox.logins.append((login, mechanism))
        return AuthResult(success=ok, handled=False)

    return check


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl CLI) and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _start(mailbox: Mailbox, **kwargs: Any) -> Controller:
    mailbox.port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port, **kwargs)
    controller.start()
    return controller


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    """Plain SMTP with AUTH allowed without TLS (aiosmtpd's auth_require_tls=False)."""
    mailbox = Mailbox()
    controller = _start(mailbox, authenticator=_authenticator(mailbox), auth_require_tls=False)
    yield mailbox
    controller.stop()


@pytest.fixture
def smtp_starttls_server(tls_files: tuple[Path, Path]) -> Iterator[Mailbox]:
    """SMTP that requires STARTTLS before anything else, with AUTH only over TLS."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls_files[0]), str(tls_files[1]))
    mailbox = Mailbox()
    controller = _start(
        mailbox,
        authenticator=_authenticator(mailbox),
        tls_context=context,
        require_starttls=True,
        auth_require_tls=True,
    )
    yield mailbox
    controller.stop()


@pytest.fixture
def smtps_server(tls_files: tuple[Path, Path]) -> Iterator[Mailbox]:
    """SMTP over implicit TLS (SMTPS)."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls_files[0]), str(tls_files[1]))
    mailbox = Mailbox()
    # aiosmtpd does not count implicit TLS as TLS for AUTH (it only tracks STARTTLS), so
    # AUTH is allowed explicitly; the whole connection is encrypted all the same.
    controller = _start(
        mailbox, authenticator=_authenticator(mailbox), ssl_context=context, auth_require_tls=False
    )
    yield mailbox
    controller.stop()
