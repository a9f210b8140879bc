"""The JSON search API and the search page.

``GET /api/search``  mentions: ``q`` (Lucene-style), ``brand``/``sentiment``/``source``/
                     ``language`` (repeatable), ``since``/``until`` (ISO-8601 or a
                     duration back from now such as ``24h``; without ``since``, the
                     histogram's default range of about 60 buckets, which also bounds the
                     hits: the response's ``query.since`` says where), ``interval``
                     (histogram, e.g. ``1h``; default picked from the range), ``size``,
                     ``offset``, ``sort`` (newest|relevance).
``GET /api/alerts``  alert episodes (``q``, ``brand``, ``state``, ``severity``, ``since``).
``GET /api/health``  the store's one-line check.
``GET /``            the search page.

Errors are JSON ``{"error": "..."}`` with status 400 for a bad query, 503 when the store
is unavailable.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from core.clock import Clock, SystemClock
from core.config import parse_duration
from core.store import Kind, QueryError, SearchQuery, SearchResult, Store, StoreError
from core.store.port import FACET_FIELDS, MAX_BUCKETS

_MAX_SIZE = 200
_MAX_HITS = 10_000
"""How deep hits can be paged (size + offset), as in Elasticsearch."""
_TARGET_BUCKETS = 60
_NICE_INTERVALS = [timedelta(minutes=m) for m in (1, 5, 10, 15, 30, 60, 180, 360, 720, 1440, 10080)]


class BadRequest(ValueError):
    pass


def _time(value: str | None, now: datetime, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name}: {value!r} is neither ISO-8601 nor a duration like 24h") from None
    if parsed.tzinfo is None:
        raise BadRequest(f"{name}: {value!r} needs a timezone (e.g. Z)")
    if parsed.year < 1970:
        raise BadRequest(f"{name}: {value!r} is before 1970")
    return parsed


def _int(value: str | None, default: int, name: str, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise BadRequest(f"{name}: {value!r} is not a number") from None
    if not low <= n <= high:
        raise BadRequest(f"{name}: must be between {low} and {high}")
    return n


def auto_interval(since: datetime | None, until: datetime | None, now: datetime) -> timedelta:
    """A round histogram interval giving about 60 buckets over the range."""
    span = (until or now) - (since or (until or now) - timedelta(days=1))
    for interval in _NICE_INTERVALS:
        if span / interval <= _TARGET_BUCKETS:
            return interval
    return _NICE_INTERVALS[-1]


def build_query(kind: Kind, params: Any, now: datetime, histogram: bool) -> SearchQuery:
    """A `SearchQuery` from request parameters; `BadRequest` says which one is wrong."""
    since = _time(params.get("since"), now, "since")
    until = _time(params.get("until"), now, "until")
    filters = {
        name: tuple(v for v in params.getlist(name) if v)
        for name in FACET_FIELDS[kind]
        if params.getlist(name)
    }
    sort = params.get("sort") or "newest"
    if sort not in ("newest", "relevance"):
        raise BadRequest("sort: newest or relevance")
    interval = None
    if histogram:
        raw = params.get("interval")
        try:
            interval = parse_duration(raw) if raw else auto_interval(since, until, now)
        except ValueError as exc:
            raise BadRequest(f"interval: {exc}") from None
        if since is None:
            since = (until or now) - auto_interval(None, until, now) * _TARGET_BUCKETS
        if interval.total_seconds() <= 0 or ((until or now) - since) / interval > MAX_BUCKETS:
            raise BadRequest(
                f"interval: more than {MAX_BUCKETS} buckets over the range; use a longer one"
            )
    size = _int(params.get("size"), 20, "size", 0, _MAX_SIZE)
    return SearchQuery(
        text=params.get("q") or "",
        filters={k: v for k, v in filters.items() if v},
        since=since,
        until=until,
        size=size,
        offset=_int(params.get("offset"), 0, "offset", 0, _MAX_HITS - size),
        sort=sort,  # type: ignore[arg-type]
        histogram=interval,
        histogram_until=now if histogram else None,
        facets=FACET_FIELDS[kind] if histogram else (),
    )


def result_json(result: SearchResult, query: SearchQuery) -> dict[str, Any]:
    return {
        "total": result.total,
        "query": {
            "q": query.text,
            "since": query.since.isoformat() if query.since else None,
            "until": query.until.isoformat() if query.until else None,
            "interval_s": query.histogram.total_seconds() if query.histogram else None,
        },
        "hits": [{"id": h.id, **h.doc, "highlights": h.highlights} for h in result.hits],
        "histogram": [{"start": b.start.isoformat(), "count": b.count} for b in result.histogram],
        "facets": {k: [{"term": t, "count": n} for t, n in v] for k, v in result.facets.items()},
    }


def create_app(store: Store, clock: Clock | None = None) -> Starlette:
    clk = clock or SystemClock()

    def searcher(kind: Kind, histogram: bool) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                query = build_query(kind, request.query_params, clk.now(), histogram)
                result = store.search(kind, query)
            except (BadRequest, QueryError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except StoreError as exc:
                return JSONResponse({"error": str(exc)}, status_code=503)
            return JSONResponse(result_json(result, query))

        return endpoint

    def health(request: Request) -> Response:
        try:
            return JSONResponse({"store": store.check()})
        except StoreError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)

    page = resources.files("dashboards").joinpath("static", "index.html").read_text("utf-8")

    def index(request: Request) -> Response:
        return HTMLResponse(page)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/search", searcher("mentions", True)),
            Route("/api/alerts", searcher("alerts", False)),
            Route("/api/health", health),
        ]
    )
