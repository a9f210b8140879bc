"""Keeping secrets out of messages and logs.

`redact` (from `core.secrets`) masks given secret values in a text. `guard_logs`
registers secrets with a filter on the HTTP libraries' loggers: httpx logs every request's
full URL at INFO, and for a Slack incoming webhook the URL *is* the credential.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from core.secrets import redact

__all__ = ["guard_logs", "redact"]

# The loggers that may print a request URL. Logger filters do not apply to child
# loggers, so each one that logs is named.
_HTTP_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)


class _SecretFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._secrets = self._secrets | {s for s in secrets if s}

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets
        if secrets:
            message = record.getMessage()
            masked = redact(message, secrets)
            if masked != message:
                record.msg, record.args = masked, None
        return True


_FILTER = _SecretFilter()


def guard_logs(secrets: Iterable[str]) -> None:
    """Mask ``secrets`` in everything the HTTP client libraries log, from now on.

    Process-wide on purpose: the HTTP client is shared, and so are its loggers. The set
    only grows (it holds the configured secrets, a handful).
    """
    _FILTER.add(secrets)
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
