"""The outbox: a folder with one ``.json`` and one ``.txt`` file per notification.

The embedded demo's receiver: nothing to set up, and the pages can be read with any
editor. Names are ``<alert time>-<brand>-<state>-<alert id>-<receiver>``, so a repeated
delivery overwrites its own files instead of adding copies. Each file is written to a
temporary name and renamed, and the ``.json`` comes last: a ``.json`` present means the
notification is complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC
from pathlib import Path

from alerting import render
from alerting.notifiers.base import Notification, Notifier
from alerting.settings import OutboxReceiver


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class OutboxNotifier(Notifier[OutboxReceiver]):
    kind = "outbox"

    def file_stem(self, n: Notification) -> str:
        alert = n.alert
        when = alert.at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")  # files sort in time order
        parts = (when, alert.brand, alert.state.value, alert.id[:12], n.receiver)
        return "-".join(render.safe_name(p) for p in parts)

    def send(self, notification: Notification) -> None:
        folder = self.settings.path
        stem = self.file_stem(notification)
        body = json.dumps(render.payload(notification), ensure_ascii=False, indent=2)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(folder / f"{stem}.txt", render.text(notification))
            _write_atomically(folder / f"{stem}.json", body + "\n")
        except OSError as exc:
            # A full disk or a folder on a share that comes back: worth another try.
            raise self.error(
                f"cannot write to {folder}: {exc.strerror or exc}", retryable=True
            ) from None
