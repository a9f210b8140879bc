"""Ingest's durable state in one SQLite file: what was produced, cursors, feed health.

Contracts:

* An entry is "seen" once its mention id (canonical URL, so one article reached through
  two feeds is one mention) or its ``(source_name, source_id)`` (the GUID, which is only
  unique within its feed) was committed. Seen entries survive restarts and are pruned
  after the retention period once their feed no longer lists them, so the file stays
  bounded and an item a feed keeps listing (an undated one is always "recent") is never
  produced twice.
* `IngestState.commit` records seen mentions and the sources' new cursors in ONE
  transaction. The service calls it only after the producer flushed, so a crash in
  between leaves both untouched and the next poll re-fetches and re-produces the items
  (downstream is idempotent by id): nothing is lost.
* Feed health is kept per source so a restart continues backoff where it was.

One `IngestState` may be used from several threads (a lock serialises access); two
processes must not share one file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.records import Mention

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_ids (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, seen_at REAL NOT NULL, last_seen REAL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_ids_by_source ON seen_ids (source, seen_at);
CREATE INDEX IF NOT EXISTS seen_ids_by_time ON seen_ids (seen_at);
CREATE TABLE IF NOT EXISTS seen_guids (
    source TEXT NOT NULL, guid TEXT NOT NULL, seen_at REAL NOT NULL, last_seen REAL,
    PRIMARY KEY (source, guid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_guids_by_time ON seen_guids (seen_at);
CREATE TABLE IF NOT EXISTS cursors (source TEXT PRIMARY KEY, cursor TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS health (
    source TEXT PRIMARY KEY,
    last_poll_at REAL, last_success_at REAL,
    last_error TEXT, last_error_at REAL,
    failures INTEGER NOT NULL DEFAULT 0,
    next_due REAL,
    newest_item_at REAL,
    connected INTEGER
);
"""
_HEALTH_COLUMNS = (
    "source, last_poll_at, last_success_at, last_error, last_error_at, failures, next_due, "
    "newest_item_at, connected"
)
_PLACES = ", ".join("?" * len(_HEALTH_COLUMNS.split(",")))


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """How one source is doing. Times are UTC; None: never happened."""

    name: str
    kind: str
    location: str | None = None
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    """The reason of the latest failure (kept after recovery, see ``failures``)."""
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    """0: healthy. Otherwise the feed is backing off."""
    items_recent: int = 0
    """New mentions produced from this source within the health window."""
    next_due: datetime | None = None
    """The next poll (a stream: the next reconnect while it is down)."""
    mode: str = "poll"
    """``poll`` or ``stream``."""
    connected: bool | None = None
    """A stream's connection state (None for a polled source)."""
    newest_item_at: datetime | None = None
    """The publication time of the newest item the source delivered (stored)."""
    items_per_minute: float = 0.0
    """``items_recent`` per minute of the health window (derived)."""
    lag: timedelta | None = None
    """Now less ``newest_item_at``: how stale the newest thing heard is (derived). A
    large lag with recent successes means the topic went quiet, not the collector."""


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


class IngestState:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # autocommit mode; transactions are explicit (BEGIN in `commit`)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(health)")}
        if "newest_item_at" not in columns:  # a state file from before streams and lag
            self._db.execute("ALTER TABLE health ADD COLUMN newest_item_at REAL")
        if "connected" not in columns:  # a state file from before the stream state was kept
            self._db.execute("ALTER TABLE health ADD COLUMN connected INTEGER")
        for table in ("seen_ids", "seen_guids"):  # from before entries seen again were kept
            seen = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if "last_seen" not in seen:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN last_seen REAL")
            self._db.execute(  # what `prune` looks up
                f"CREATE INDEX IF NOT EXISTS {table}_by_last ON {table} "
                "(coalesce(last_seen, seen_at))"
            )

    # -- dedup ------------------------------------------------------------------------
    def unseen(self, mentions: Iterable[Mention]) -> list[Mention]:
        """The mentions not seen before, in order, each id and GUID at most once."""
        out: list[Mention] = []
        ids: set[str] = set()
        guids: set[tuple[str, str]] = set()
        with self._lock:
            for m in mentions:
                guid = (m.source_name, m.source_id) if m.source_id else None
                if m.id in ids or (guid and guid in guids):
                    continue
                if self._seen_before(m.id, guid):
                    continue
                ids.add(m.id)
                if guid:
                    guids.add(guid)
                out.append(m)
        return out

    def _seen_before(self, mention_id: str, guid: tuple[str, str] | None) -> bool:
        if self._db.execute("SELECT 1 FROM seen_ids WHERE id = ?", (mention_id,)).fetchone():
            return True
        query = "SELECT 1 FROM seen_guids WHERE source = ? AND guid = ?"
        return guid is not None and self._db.execute(query, guid).fetchone() is not None

    def commit(
        self,
        mentions: Iterable[Mention],
        cursors: Mapping[str, Mapping[str, str]],
        at: datetime,
        seen_again: Iterable[Mention] = (),
    ) -> None:
        """Mark ``mentions`` seen (again: as of ``at``) and store the sources' cursors,
        atomically."""
        when = at.timestamp()
        batch = list(mentions)
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR IGNORE INTO seen_ids VALUES (?, ?, ?, NULL)",
                [(m.id, m.source_name, when) for m in batch],
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO seen_guids VALUES (?, ?, ?, NULL)",
                [(m.source_name, m.source_id, when) for m in batch if m.source_id],
            )
            # Seen again: every key of the item is kept (one it lacked too: its GUID in this
            # feed, its moved link), and last_seen moves on, so an entry a feed still lists
            # is never pruned (and produced again) while it is listed. A key first kept
            # this way has seen_at 0: it is no new item for the items per minute.
            again = (
                "DO UPDATE SET last_seen = max(coalesce(last_seen, seen_at), excluded.last_seen)"
            )
            items = list(seen_again)
            self._db.executemany(
                f"INSERT INTO seen_ids VALUES (?, ?, 0, ?) ON CONFLICT (id) {again}",
                [(m.id, m.source_name, when) for m in items],
            )
            self._db.executemany(
                f"INSERT INTO seen_guids VALUES (?, ?, 0, ?) ON CONFLICT (source, guid) {again}",
                [(m.source_name, m.source_id, when) for m in items if m.source_id],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO cursors VALUES (?, ?)",
                [(name, json.dumps(dict(c), sort_keys=True)) for name, c in cursors.items()],
            )

    def cursor(self, source: str) -> dict[str, str]:
        """The cursor the source's last committed poll returned (empty: none yet)."""
        with self._lock:
            row = self._db.execute(
                "SELECT cursor FROM cursors WHERE source = ?", (source,)
            ).fetchone()
        if not row:
            return {}
        data = json.loads(row[0])
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def prune(self, before: datetime) -> int:
        """Forget entries seen before ``before``; returns how many keys were dropped."""
        cutoff = before.timestamp()
        with self._lock, self._db:
            self._db.execute("BEGIN")
            last = "coalesce(last_seen, seen_at) < ?"
            a = self._db.execute(f"DELETE FROM seen_ids WHERE {last}", (cutoff,)).rowcount
            b = self._db.execute(f"DELETE FROM seen_guids WHERE {last}", (cutoff,)).rowcount
        return a + b

    def count_since(self, source: str, since: datetime) -> int:
        """New mentions committed for ``source`` at or after ``since``."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM seen_ids WHERE source = ? AND seen_at >= ?",
                (source, since.timestamp()),
            ).fetchone()
        return int(row[0])

    # -- health -----------------------------------------------------------------------
    def save_health(self, health: FeedHealth) -> None:
        """Store ``health`` (the derived figures are not)."""
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO health ({_HEALTH_COLUMNS}) VALUES ({_PLACES})",
                (
                    health.name,
                    _ts(health.last_poll_at),
                    _ts(health.last_success_at),
                    health.last_error,
                    _ts(health.last_error_at),
                    health.consecutive_failures,
                    _ts(health.next_due),
                    _ts(health.newest_item_at),
                    None if health.connected is None else int(health.connected),
                ),
            )

    def load_health(
        self, name: str, kind: str, location: str | None = None, mode: str = "poll"
    ) -> FeedHealth:
        """The stored health of ``name`` (a blank one if it was never polled)."""
        with self._lock:
            row = self._db.execute(
                "SELECT last_poll_at, last_success_at, last_error, last_error_at, failures, "
                "next_due, newest_item_at, connected FROM health WHERE source = ?",
                (name,),
            ).fetchone()
        stream = mode == "stream"
        if row is None:
            return FeedHealth(name, kind, location, mode=mode, connected=False if stream else None)
        poll, success, error, error_at, failures, due, newest, connected = row
        return FeedHealth(
            name,
            kind,
            location,
            last_poll_at=_dt(poll),
            last_success_at=_dt(success),
            last_error=error,
            last_error_at=_dt(error_at),
            consecutive_failures=int(failures),
            next_due=_dt(due),
            mode=mode,
            connected=bool(connected) if stream else None,
            newest_item_at=_dt(newest),
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
