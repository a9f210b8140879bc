"""The embedded store: SQLite with FTS5 (unicode61 tokenizer, BM25 ranking).

One table per kind with the keyword and time columns for filters and facets, the full
document as JSON, and an external-content FTS5 index over the text fields kept in step
by triggers. Safe to share between threads of one process.
"""

from __future__ import annotations

import html
import json
import sqlite3
import threading
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic_core import to_json

from core.records import Alert, EnrichedMention
from core.store.documents import alert_doc, mention_doc
from core.store.port import (
    FACET_FIELDS,
    KEYWORD_FIELDS,
    TEXT_FIELDS,
    TIME_FIELD,
    Hit,
    Kind,
    SearchQuery,
    SearchResult,
    Store,
    StoreError,
    fill_histogram,
    to_ms,
)
from core.store.query import Keyword, Node, Text, parse_query, positive_texts

_OPEN, _CLOSE = "\x02", "\x03"
_SNIPPET_TOKENS = 24


def _columns(kind: Kind) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*KEYWORD_FIELDS[kind], *FACET_FIELDS[kind])))


def _schema(kind: Kind) -> str:
    keywords = _columns(kind)
    texts = TEXT_FIELDS[kind]
    cols = ", ".join(f"{c} TEXT" for c in (*keywords, *texts) if c != "id")
    text_list = ", ".join(texts)
    new_texts = ", ".join(f"new.{t}" for t in texts)
    old_texts = ", ".join(f"old.{t}" for t in texts)
    fts = f"{kind}_fts"
    return f"""
CREATE TABLE IF NOT EXISTS {kind} (
    rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, {cols},
    ts INTEGER NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {kind}_ts ON {kind}(ts);
CREATE INDEX IF NOT EXISTS {kind}_brand_ts ON {kind}(brand, ts);
CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(
    {text_list}, content='{kind}', content_rowid='rid',
    tokenize='unicode61 remove_diacritics 0'
);
CREATE TRIGGER IF NOT EXISTS {kind}_ai AFTER INSERT ON {kind} BEGIN
    INSERT INTO {fts}(rowid, {text_list}) VALUES (new.rid, {new_texts});
END;
CREATE TRIGGER IF NOT EXISTS {kind}_ad AFTER DELETE ON {kind} BEGIN
    INSERT INTO {fts}({fts}, rowid, {text_list}) VALUES ('delete', old.rid, {old_texts});
END;
CREATE TRIGGER IF NOT EXISTS {kind}_au AFTER UPDATE ON {kind} BEGIN
    INSERT INTO {fts}({fts}, rowid, {text_list}) VALUES ('delete', old.rid, {old_texts});
    INSERT INTO {fts}(rowid, {text_list}) VALUES (new.rid, {new_texts});
END;
"""


def _fts_expr(t: Text) -> str:
    phrase = '"' + " ".join(t.tokens) + '"' + (" *" if t.prefix else "")
    cols = " ".join(t.fields)
    return f"{{{cols}}} : {phrase}"


class _SqlCompiler:
    """Compiles a query tree into a WHERE clause over ``{kind}`` aliased ``d``."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.params: list[Any] = []

    def compile(self, node: Node) -> str:
        if isinstance(node, Text):
            self.params.append(_fts_expr(node))
            return f"d.rid IN (SELECT rowid FROM {self.kind}_fts WHERE {self.kind}_fts MATCH ?)"
        if isinstance(node, Keyword):
            if node.prefix:
                self.params.append(_glob_escape(node.value) + "*")
                return f"d.{node.field} GLOB ?"
            self.params.append(node.value)
            return f"d.{node.field} = ?"
        parts = [self.compile(n) for n in node.must]
        parts += [f"NOT ({self.compile(n)})" for n in node.must_not]
        if node.should and not node.must:
            parts.append("(" + " OR ".join(self.compile(n) for n in node.should) + ")")
        return "(" + " AND ".join(parts) + ")" if parts else "1"


def _indexable(value: Any) -> Any:
    """Text as the index takes it: composed (NFC), as queries are parsed (a decomposed
    "Rückruf" would be found by no spelling), and without the characters snippets use to
    mark hits (they would unbalance the ``<mark>`` tags). The document keeps it as it was."""
    if not isinstance(value, str):
        return value
    if _OPEN in value or _CLOSE in value:
        value = value.replace(_OPEN, " ").replace(_CLOSE, " ")
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def _glob_escape(value: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in value)


class SqliteStore(Store):
    name = "embedded"

    def __init__(self, path: str | Path | None = None) -> None:
        self._path = Path(path) if path else None
        self._lock = threading.RLock()
        try:
            if self._path is not None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self._path or ":memory:", check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"store.embedded.path: cannot open {self._path}: {exc}") from exc

    def ensure_schema(self) -> None:
        with self._lock:
            for kind in ("mentions", "alerts"):
                self._db.executescript(_schema(kind))

    # -- writing -----------------------------------------------------------------------
    def _upsert(self, kind: Kind, docs: list[dict[str, Any]]) -> int:
        if not docs:
            return 0
        cols = [c for c in _columns(kind) if c != "id"] + list(TEXT_FIELDS[kind])
        names = ["id", *cols, "ts", "doc"]
        sql = (
            f"INSERT INTO {kind} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
            f"ON CONFLICT(id) DO UPDATE SET " + ", ".join(f"{n} = excluded.{n}" for n in names[1:])
        )
        time_field = TIME_FIELD[kind]
        texts = set(TEXT_FIELDS[kind])
        rows = [
            (
                d["id"],
                *(_indexable(d.get(c)) if c in texts else d.get(c) for c in cols),
                to_ms(datetime.fromisoformat(d[time_field])),
                to_json(d).decode(),  # as json.dumps writes it, several times faster
            )
            for d in docs
        ]
        with self._lock:
            try:
                self._db.execute("BEGIN")
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(f"cannot index {len(rows)} {kind}: {exc}") from exc
        return len(rows)

    def index_mentions(self, mentions: Sequence[EnrichedMention]) -> int:
        return self._upsert("mentions", [mention_doc(m) for m in mentions])

    def index_alerts(self, alerts: Sequence[Alert]) -> int:
        return self._upsert("alerts", [alert_doc(a) for a in alerts])

    def refresh(self) -> None:
        """Writes are visible once committed; nothing to do."""

    # -- reading -----------------------------------------------------------------------
    def _where(self, kind: Kind, q: SearchQuery, node: Node | None) -> tuple[str, list[Any]]:
        comp = _SqlCompiler(kind)
        clauses = [comp.compile(node)] if node is not None else []
        for name, values in q.filters.items():
            if values:
                clauses.append(f"d.{name} IN ({', '.join('?' * len(values))})")
                comp.params.extend(values)
        if q.since is not None:
            clauses.append("d.ts >= ?")
            comp.params.append(to_ms(q.since))
        if q.until is not None:
            clauses.append("d.ts < ?")
            comp.params.append(to_ms(q.until))
        return (" AND ".join(clauses) or "1"), comp.params

    def search(self, kind: Kind, query: SearchQuery) -> SearchResult:
        q = query.validate(kind)
        node = parse_query(kind, q.text)
        where, params = self._where(kind, q, node)
        texts = positive_texts(node)
        match = " OR ".join(_fts_expr(t) for t in texts)
        with self._lock:
            try:
                return self._search(kind, q, where, params, match)
            except sqlite3.Error as exc:
                raise StoreError(f"search failed: {exc}") from exc

    def _search(
        self, kind: Kind, q: SearchQuery, where: str, params: list[Any], match: str
    ) -> SearchResult:
        db = self._db
        total = db.execute(f"SELECT COUNT(*) FROM {kind} d WHERE {where}", params).fetchone()[0]
        fts = f"{kind}_fts"
        if q.sort == "relevance" and match:
            weights = ", ".join("2.0" if f == "title" else "1.0" for f in TEXT_FIELDS[kind])
            sql = (
                f"SELECT d.id, d.doc, d.rid, COALESCE(-r.rank, 0.0) FROM {kind} d "
                f"LEFT JOIN (SELECT rowid AS rid, bm25({fts}, {weights}) AS rank FROM {fts} "
                f"WHERE {fts} MATCH ?) r ON r.rid = d.rid WHERE {where} "
                "ORDER BY COALESCE(r.rank, 0.0) ASC, d.ts DESC, d.id ASC LIMIT ? OFFSET ?"
            )
            rows = db.execute(sql, [match, *params, q.size, q.offset]).fetchall()
        else:
            sql = (
                f"SELECT d.id, d.doc, d.rid, NULL FROM {kind} d WHERE {where} "
                "ORDER BY d.ts DESC, d.id ASC LIMIT ? OFFSET ?"
            )
            rows = db.execute(sql, [*params, q.size, q.offset]).fetchall()
        marks = self._highlights(kind, [r[2] for r in rows], match) if q.highlight else {}
        hits = [
            Hit(id=r[0], doc=json.loads(r[1]), score=r[3], highlights=marks.get(r[2], {}))
            for r in rows
        ]
        histogram = []
        if q.histogram is not None:
            step = int(q.histogram.total_seconds() * 1000)
            counts = dict(
                db.execute(
                    f"SELECT d.ts - (d.ts % ?) AS b, COUNT(*) FROM {kind} d WHERE {where} "
                    "GROUP BY b",
                    [step, *params],
                ).fetchall()
            )
            histogram = fill_histogram(counts, q.histogram, q.since, q.until or q.histogram_until)
        facets = {}
        for name in q.facets:
            facets[name] = [
                (str(term), int(n))
                for term, n in db.execute(
                    f"SELECT d.{name}, COUNT(*) AS n FROM {kind} d WHERE {where} "
                    f"AND d.{name} IS NOT NULL GROUP BY d.{name} ORDER BY n DESC, d.{name} ASC "
                    "LIMIT 10",
                    params,
                ).fetchall()
            ]
        return SearchResult(total=total, hits=hits, histogram=histogram, facets=facets)

    def _highlights(
        self, kind: Kind, rids: list[int], match: str
    ) -> dict[int, dict[str, list[str]]]:
        if not rids or not match:
            return {}
        fts = f"{kind}_fts"
        fields = TEXT_FIELDS[kind]
        exprs = []
        for i, name in enumerate(fields):
            if name == "title":
                exprs.append(f"highlight({fts}, {i}, '{_OPEN}', '{_CLOSE}')")
            else:
                exprs.append(f"snippet({fts}, {i}, '{_OPEN}', '{_CLOSE}', '…', {_SNIPPET_TOKENS})")
        sql = (
            f"SELECT rowid, {', '.join(exprs)} FROM {fts} WHERE {fts} MATCH ? "
            f"AND rowid IN ({', '.join('?' * len(rids))})"
        )
        out: dict[int, dict[str, list[str]]] = {}
        for row in self._db.execute(sql, [match, *rids]):
            marks = {
                name: [_marked(value)]
                for name, value in zip(fields, row[1:], strict=True)
                if value and _OPEN in value
            }
            if marks:
                out[row[0]] = marks
        return out

    def get(self, kind: Kind, doc_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(f"SELECT doc FROM {kind} WHERE id = ?", (doc_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def check(self) -> str:
        where = f"SQLite file {self._path}" if self._path else "memory"
        with self._lock:
            version = self._db.execute("SELECT sqlite_version()").fetchone()[0]
            try:
                self._db.execute("CREATE VIRTUAL TABLE temp.fts_probe USING fts5(x)")
                self._db.execute("DROP TABLE temp.fts_probe")
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite {version} has no FTS5: {exc}") from exc
        return f"embedded store (SQLite {version} with FTS5) in {where}"

    def drop(self) -> None:
        with self._lock:
            for kind in ("mentions", "alerts"):
                self._db.executescript(
                    f"DROP TABLE IF EXISTS {kind}_fts; DROP TABLE IF EXISTS {kind};"
                )

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _marked(value: str) -> str:
    return html.escape(value).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")
