"""The embedded bus: an in-process log with Kafka's semantics, optionally kept in SQLite.

It lets every stage run in one process on a laptop with no servers. Partitions,
key hashing (Kafka's murmur2, so a key lands on the same partition number as on Kafka),
consumer groups with eager rebalancing, and committed offsets behave as on Kafka.

With a ``path`` the log and the committed offsets survive a restart: records are
written to SQLite on `Producer.flush` (and every ``autoflush`` records), commits at
once. Without one, everything lives in memory and is gone with the process.
Everything is in one process: a second process opening the same file is refused.

A consumer blocked in `Consumer.poll` is woken by a record on one of ITS topics (or a
change of its group), not by every record on the bus: one wake-up per wait, so a busy
topic never drags the other stages' threads through empty polls.

The log keeps each record as a plain tuple of bytes, strings and numbers, which Python's
garbage collector stops tracking, and makes a `Message` only when it is read: a log of
`Message` objects (every record ever sent, in memory) would be walked again by every
full collection, a cost that grows with the log.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kafka.partitioner.default import murmur2

from core.bus.port import (
    Bus,
    BusError,
    Consumer,
    Headers,
    Message,
    Producer,
    TopicPartition,
    TopicSpec,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (name TEXT PRIMARY KEY, partitions INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    key BLOB, value BLOB NOT NULL, headers TEXT NOT NULL, ts INTEGER NOT NULL,
    PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS offsets (
    grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    PRIMARY KEY (grp, topic, partition)
) WITHOUT ROWID;
"""


_Row = tuple[bytes | None, bytes, Headers, int]
"""A record in the log: key, value, headers, timestamp (ms); topic, partition and offset
are where it lies."""


@dataclass
class _Member:
    id: int
    topics: tuple[str, ...]
    wake: threading.Condition
    """Notified (under the bus lock) when a record arrives on one of ``topics`` or the
    group changes, while the member waits in `EmbeddedBus._poll`."""
    generation: int = -1
    assigned: list[TopicPartition] = field(default_factory=list)
    positions: dict[TopicPartition, int] = field(default_factory=dict)


@dataclass
class _Group:
    members: dict[int, _Member] = field(default_factory=dict)
    generation: int = 0


class EmbeddedBus(Bus):
    name = "embedded"

    def __init__(
        self, path: str | Path | None = None, default_partitions: int = 1, autoflush: int = 1000
    ) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[int, _Member] = {}
        """Members blocked in `_poll`, by id; each is woken once and then removed."""
        self._logs: dict[str, list[list[_Row]]] = {}
        self._committed: dict[tuple[str, TopicPartition], int] = {}
        self._groups: dict[str, _Group] = {}
        self._member_ids = itertools.count(1)
        self._round_robin = itertools.count()
        self._default_partitions = default_partitions
        self._autoflush = autoflush
        self._pending: list[Message] = []
        self._path = Path(path) if path else None
        self._db: sqlite3.Connection | None = None
        self._hold: IO[bytes] | None = None
        self._closed = False
        if self._path is not None:
            self._open(self._path)

    # -- persistence -------------------------------------------------------------------
    def _open(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._hold = _hold_file(path)
            db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise BusError(f"embedded bus: cannot open {path}: {exc}") from exc
        self._db = db
        for name, partitions in db.execute("SELECT name, partitions FROM topics"):
            self._logs[name] = [[] for _ in range(partitions)]
        rows = db.execute(
            "SELECT topic, partition, offset, key, value, headers, ts FROM messages "
            "ORDER BY topic, partition, offset"
        )
        for topic, partition, _offset, key, value, headers, ts in rows:
            hdrs = tuple((k, bytes.fromhex(v)) for k, v in json.loads(headers))
            self._logs[topic][partition].append((key, value, hdrs, ts))
        for grp, topic, partition, offset in db.execute("SELECT * FROM offsets"):
            self._committed[(grp, TopicPartition(topic, partition))] = offset

    def _persist_pending(self) -> None:
        if self._db is None or not self._pending:
            self._pending.clear()
            return
        rows = [
            (
                m.topic,
                m.partition,
                m.offset,
                m.key,
                m.value,
                json.dumps([(k, v.hex()) for k, v in m.headers]),
                m.timestamp_ms,
            )
            for m in self._pending
        ]
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT INTO messages VALUES (?,?,?,?,?,?,?)", rows)
        except sqlite3.Error as exc:
            raise BusError(f"embedded bus: cannot write to {self._path}: {exc}") from exc
        self._pending.clear()

    # -- topics ------------------------------------------------------------------------
    def _create(self, name: str, partitions: int) -> list[list[_Row]]:
        if partitions < 1:
            raise BusError(f"topic {name!r}: partitions must be at least 1")
        log: list[list[_Row]] = [[] for _ in range(partitions)]
        self._logs[name] = log
        if self._db is not None:
            self._db.execute("INSERT OR IGNORE INTO topics VALUES (?, ?)", (name, partitions))
        for group in self._groups.values():
            if any(name in m.topics for m in group.members.values()):
                group.generation += 1
                self._wake()
        return log

    def ensure_topics(self, topics: Iterable[TopicSpec]) -> None:
        with self._lock:
            for spec in topics:
                if spec.name not in self._logs:
                    self._create(spec.name, spec.partitions)

    def partitions(self, topic: str) -> int:
        with self._lock:
            log = self._logs.get(topic)
            if log is None:
                raise BusError(f"topic {topic!r} does not exist")
            return len(log)

    # -- producing ---------------------------------------------------------------------
    def _check_open(self) -> None:
        """The caller holds the lock. A bus closed under a late thread must say so: a flush
        that returned would let ingest mark as seen what was never kept."""
        if self._closed:
            raise BusError("embedded bus is closed")

    def _append(self, topic: str, value: bytes, key: bytes | None, headers: Headers) -> None:
        with self._lock:
            self._check_open()
            log = self._logs.get(topic) or self._create(topic, self._default_partitions)
            if key is None:
                partition = next(self._round_robin) % len(log)
            else:
                partition = (murmur2(key) & 0x7FFFFFFF) % len(log)
            part = log[partition]
            row: _Row = (key, value, headers, int(time.time() * 1000))
            part.append(row)
            if self._db is not None:
                self._pending.append(Message(topic, partition, len(part) - 1, *row))
                if len(self._pending) >= self._autoflush:
                    self._persist_pending()
            if self._waiting:
                self._wake(topic)

    def _wake(self, topic: str | None = None) -> None:
        """Wake the waiting members that read ``topic`` (None: every waiting member).
        The caller holds the lock."""
        for member in list(self._waiting.values()):
            if topic is None or topic in member.topics:
                del self._waiting[member.id]
                member.wake.notify()

    def _flush(self) -> None:
        with self._lock:
            self._check_open()
            self._persist_pending()

    def producer(self) -> Producer:
        return _EmbeddedProducer(self)

    # -- consuming ---------------------------------------------------------------------
    def consumer(self, group: str, topics: Sequence[str]) -> Consumer:
        if not topics:
            raise BusError("a consumer needs at least one topic")
        with self._lock:
            for topic in topics:
                if topic not in self._logs:
                    self._create(topic, self._default_partitions)
            grp = self._groups.setdefault(group, _Group())
            member = _Member(next(self._member_ids), tuple(topics), threading.Condition(self._lock))
            grp.members[member.id] = member
            grp.generation += 1
            self._wake()
        return _EmbeddedConsumer(self, group, member)

    def _leave(self, group: str, member: _Member) -> None:
        with self._lock:
            grp = self._groups[group]
            if grp.members.pop(member.id, None) is not None:
                grp.generation += 1
                self._wake()

    def _rebalance_if_needed(self, group: str, member: _Member) -> None:
        """Eager rebalance: on a new generation every member restarts from the committed
        offsets of its (new) partitions, as a Kafka classic-protocol consumer does."""
        grp = self._groups[group]
        if member.generation == grp.generation:
            return
        members = sorted(grp.members)
        all_tps = sorted(
            {
                TopicPartition(t, p)
                for m in grp.members.values()
                for t in m.topics
                for p in range(len(self._logs[t]))
            }
        )
        # round robin among the members that read each partition's topic (all of them
        # when the members read the same topics, as the stages' do)
        turns: dict[tuple[int, ...], int] = {}
        mine = []
        for tp in all_tps:
            readers = tuple(m for m in members if tp.topic in grp.members[m].topics)
            turn = turns.get(readers, 0)
            turns[readers] = turn + 1
            if readers[turn % len(readers)] == member.id:
                mine.append(tp)
        member.assigned = mine
        member.positions = {tp: self._committed.get((group, tp), 0) for tp in mine}
        member.generation = grp.generation

    def _poll(self, group: str, member: _Member, timeout: float, max_records: int) -> list[Message]:
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._lock:
            while True:
                self._rebalance_if_needed(group, member)
                out: list[Message] = []
                for tp in member.assigned:
                    part = self._logs[tp.topic][tp.partition]
                    pos = member.positions[tp]
                    if pos < len(part):
                        take = part[pos : pos + (max_records - len(out))]
                        out.extend(_messages(tp.topic, tp.partition, pos, take))
                        member.positions[tp] = pos + len(take)
                        if len(out) >= max_records:
                            break
                if out:
                    # rotate so one busy partition cannot starve the others
                    member.assigned.append(member.assigned.pop(0))
                    return out
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._waiting[member.id] = member
                try:
                    member.wake.wait(remaining)
                finally:
                    self._waiting.pop(member.id, None)

    def _commit(
        self, group: str, member: _Member, offsets: Mapping[TopicPartition, int] | None
    ) -> None:
        with self._lock:
            self._check_open()
            if member.generation != self._groups[group].generation:
                raise BusError(
                    f"commit failed for group {group!r}: the group rebalanced since the last "
                    "poll; the records will be read again by the partition's new owner"
                )
            todo = dict(member.positions) if offsets is None else dict(offsets)
            for tp in todo:
                if tp not in member.positions:
                    raise BusError(f"commit failed: {tp.topic}[{tp.partition}] is not assigned")
            for tp, offset in todo.items():
                self._committed[(group, tp)] = offset
            if self._db is not None:
                self._persist_pending()
                with self._db:
                    self._db.execute("BEGIN")
                    self._db.executemany(
                        "INSERT OR REPLACE INTO offsets VALUES (?,?,?,?)",
                        [(group, tp.topic, tp.partition, off) for tp, off in todo.items()],
                    )

    def read_topic(self, topic: str, timeout: float = 30.0) -> list[Message]:
        with self._lock:
            log = self._logs.get(topic) or []
            return [m for p, part in enumerate(log) for m in _messages(topic, p, 0, part)]

    def committed(self, group: str, tp: TopicPartition) -> int | None:
        with self._lock:
            return self._committed.get((group, tp))

    def check(self) -> str:
        where = f"SQLite file {self._path}" if self._path else "memory"
        with self._lock:
            return f"embedded bus in {where}: {len(self._logs)} topics"

    def close(self) -> None:
        with self._lock:
            self._persist_pending()
            self._closed = True
            if self._db is not None:
                self._db.close()
                self._db = None
            if self._hold is not None:
                self._hold.close()  # releases the lock
                self._hold = None


class BusInUse(BusError):
    """The embedded bus file is held by another process (a running stormwatch)."""


def _hold_file(path: Path) -> IO[bytes]:
    """An exclusive lock on ``path`` (a ``.lock`` file beside it) for as long as the
    returned file is open: a second process on the same bus file would write offsets the
    first one also writes."""
    hold = open(path.with_name(path.name + ".lock"), "wb")  # noqa: SIM115 (held open)
    try:
        fcntl.flock(hold, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        hold.close()
        raise BusInUse(
            f"embedded bus: {path} is in use by another process; the embedded bus serves "
            "one process (run the stages in one `stormwatch run`, or use Kafka)"
        ) from None
    return hold


def _messages(topic: str, partition: int, offset: int, rows: Sequence[_Row]) -> list[Message]:
    """``rows`` of a partition, the first at ``offset``, as `Message`s."""
    return [Message(topic, partition, offset + i, *row) for i, row in enumerate(rows)]


class _EmbeddedProducer(Producer):
    def __init__(self, bus: EmbeddedBus) -> None:
        self._bus = bus

    def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Headers = ()
    ) -> None:
        self._bus._append(topic, value, key, headers)

    def flush(self, timeout: float | None = None) -> None:
        self._bus._flush()

    def close(self) -> None:
        # after the bus closed there is nothing left to flush: its close kept what was sent
        with self._bus._lock:
            if self._bus._closed:
                return
        self._bus._flush()


class _EmbeddedConsumer(Consumer):
    def __init__(self, bus: EmbeddedBus, group: str, member: _Member) -> None:
        self._bus = bus
        self._group = group
        self._member = member
        self._closed = False

    def poll(self, timeout: float = 1.0, max_records: int = 500) -> list[Message]:
        if self._closed:
            raise BusError("poll on a closed consumer")
        return self._bus._poll(self._group, self._member, timeout, max_records)

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        if self._closed:
            raise BusError("commit on a closed consumer")
        self._bus._commit(self._group, self._member, offsets)

    def assignment(self) -> set[TopicPartition]:
        with self._bus._lock:
            self._bus._rebalance_if_needed(self._group, self._member)
            return set(self._member.assigned)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._bus._leave(self._group, self._member)
