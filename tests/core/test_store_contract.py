"""The store contract: every adapter passes this one module (embedded SQLite FTS5 and
Elasticsearch on a real server). Expected answers are written out by hand from the
corpus below, so each store is checked against the truth, not against the other."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.records import (
    Alert,
    AlertState,
    EnrichedMention,
    Mention,
    Sentiment,
    Severity,
)
from core.settings import ElasticsearchSettings
from core.store import QueryError, SearchQuery, Store
from core.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

# key, brand, source, language, sentiment, minutes after T0, title, text
CORPUS = [
    (
        "a1",
        "acme",
        "rss",
        "en",
        "negative",
        5,
        "Acme boycott grows",
        "People call for a boycott of Acme after the recall.",
    ),
    (
        "a2",
        "acme",
        "rss",
        "en",
        "negative",
        20,
        "Bad service at Acme",
        "Really bad service, no refund given.",
    ),
    (
        "a3",
        "acme",
        "mastodon",
        "en",
        "neutral",
        65,
        "Acme quarterly update",
        "Acme published its numbers.",
    ),
    (
        "a4",
        "acme",
        "mastodon",
        "en",
        "positive",
        70,
        "Love the new Acme phone",
        "The service was great and fast.",
    ),
    (
        "a5",
        "acme",
        "rss",
        "de",
        "negative",
        130,
        "Rückruf bei Acme",
        "Acme-Kunden verärgert über den Rückruf.",
    ),
    (
        "a6",
        "acme",
        "rss",
        "de",
        "neutral",
        135,
        "Acme erklärt sich",
        "Die Firma äußert sich zur Lage.",
    ),
    (
        "a7",
        "acme",
        "mastodon",
        "en",
        "negative",
        140,
        "#boycottacme trending",
        "Join the #boycottacme movement, service is bad.",
    ),
    (
        "a8",
        "acme",
        "rss",
        "en",
        "negative",
        190,
        "Lawsuit filed against Acme",
        "A class action lawsuit over the recall.",
    ),
    (
        "g1",
        "globex",
        "rss",
        "en",
        "neutral",
        10,
        "Globex opens office",
        "Globex expands to Berlin.",
    ),
    (
        "g2",
        "globex",
        "mastodon",
        "en",
        "negative",
        75,
        "Globex outage",
        "Service outage, bad day for Globex users.",
    ),
    (
        "g3",
        "globex",
        "rss",
        "de",
        "positive",
        200,
        "Globex gewinnt Preis",
        "Ein Preis für den Service von Globex.",
    ),
    (
        "g4",
        "globex",
        "rss",
        "en",
        "neutral",
        250,
        "Globex & <Partners>",
        "Text with <b>markup</b> & ampersands: boycott rumours.",
    ),
]


def enriched(
    key: str,
    brand: str,
    source: str,
    lang: str,
    sentiment: str,
    minutes: int,
    title: str,
    text: str,
) -> EnrichedMention:
    when = T0 + timedelta(minutes=minutes)
    mention = Mention(
        source=source,
        source_name=f"{source}-feed",
        url=f"https://example.com/{key}",
        title=title,
        text=text,
        author=f"author-{key}",
        published_at=when,
        fetched_at=when,
    )
    return EnrichedMention(
        mention=mention,
        brand=brand,
        language=lang,
        sentiment=Sentiment(sentiment),
        enriched_at=when,
    )


DOCS = {row[0]: enriched(*row) for row in CORPUS}
KEY_OF = {m.id: k for k, m in DOCS.items()}


@pytest.fixture(scope="module", params=["embedded", "elasticsearch"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    if request.param == "embedded":
        s: Store = SqliteStore(tmp_path_factory.mktemp("store") / "store.db")
    else:
        from core.store.elastic import ElasticStore

        url = request.getfixturevalue("es_url")
        s = ElasticStore(
            ElasticsearchSettings(hosts=(url,), index_prefix=f"swtest-{uuid.uuid4().hex[:8]}")
        )
    s.ensure_schema()
    s.ensure_schema()  # twice: creating what exists is a no-op
    assert s.index_mentions(list(DOCS.values())) == len(DOCS)
    s.refresh()
    yield s
    s.drop()
    s.close()


def keys(store: Store, text: str = "", **kw: object) -> list[str]:
    result = store.search("mentions", SearchQuery(text=text, size=100, **kw))  # type: ignore[arg-type]
    found = [KEY_OF[h.id] for h in result.hits]
    assert result.total == len(found)
    return found


NEWEST_FIRST = [k for k, *_ in sorted(CORPUS, key=lambda r: -r[5])]


def test_everything_newest_first(store: Store) -> None:
    assert keys(store) == NEWEST_FIRST


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("boycott", {"a1", "g4"}),
        ("Boycott", {"a1", "g4"}),
        ("boycott OR lawsuit", {"a1", "a8", "g4"}),
        ("bad service", {"a2", "a7", "g2"}),
        ('"bad service"', {"a2"}),
        ("service -bad", {"a4", "g3"}),
        ("service AND NOT bad", {"a4", "g3"}),
        ("NOT acme", {"a7", "g1", "g2", "g3", "g4"}),
        ("title:acme", {"a1", "a2", "a3", "a4", "a5", "a6", "a8"}),
        ("title:boycott", {"a1"}),
        ("brand:globex", {"g1", "g2", "g3", "g4"}),
        ("brand:globex AND service", {"g2", "g3"}),
        ("(boycott OR recall) AND brand:acme", {"a1", "a8"}),
        ("rück*", {"a5"}),
        ("Rückruf", {"a5"}),
        ("acme-kunden", {"a5"}),
        ("#boycottacme", {"a7"}),
        ("glob*", {"g1", "g2", "g3", "g4"}),
        ("sentiment:positive", {"a4", "g3"}),
        ("language:de AND acme", {"a5", "a6"}),
        ("+recall lawsuit", {"a8"}),
        ("recall OR -acme", set()),  # Lucene: OR leaves -acme mandatory
        ("author:author-a3", {"a3"}),
        ("brand:glo*", {"g1", "g2", "g3", "g4"}),
        ("brand:Globex", set()),
        ("zzzznothing", set()),
    ],
)
def test_query_string(store: Store, query: str, expected: set[str]) -> None:
    assert set(keys(store, query)) == expected


@pytest.mark.parametrize(
    "query", ["x:[1 TO 2]", "servce~", '"bad service"~3', "ser?ice", "nofield:acme", "(acme"]
)
def test_unsupported_queries_are_refused_with_a_reason(store: Store, query: str) -> None:
    with pytest.raises(QueryError):
        store.search("mentions", SearchQuery(text=query))


def test_filters_and_time_range(store: Store) -> None:
    got = keys(
        store,
        filters={"brand": ("acme",), "sentiment": ("negative",), "source": ("rss",)},
        since=T0 + timedelta(minutes=20),
        until=T0 + timedelta(minutes=190),
    )
    assert got == ["a5", "a2"], "since is inclusive, until exclusive, newest first"
    assert set(keys(store, filters={"language": ("de", "en"), "brand": ("globex",)})) == {
        "g1",
        "g2",
        "g3",
        "g4",
    }


def test_paging_is_stable(store: Store) -> None:
    pages = [
        [h.id for h in store.search("mentions", SearchQuery(size=5, offset=o)).hits]
        for o in (0, 5, 10)
    ]
    assert [KEY_OF[i] for page in pages for i in page] == NEWEST_FIRST


def test_histogram_buckets(store: Store) -> None:
    result = store.search(
        "mentions",
        SearchQuery(
            histogram=timedelta(hours=1),
            since=T0 - timedelta(hours=1),
            until=T0 + timedelta(hours=6),
            size=0,
        ),
    )
    assert [(b.start, b.count) for b in result.histogram] == [
        (T0 - timedelta(hours=1), 0),
        (T0, 3),
        (T0 + timedelta(hours=1), 3),
        (T0 + timedelta(hours=2), 3),
        (T0 + timedelta(hours=3), 2),
        (T0 + timedelta(hours=4), 1),
        (T0 + timedelta(hours=5), 0),
    ]
    narrow = store.search(
        "mentions", SearchQuery(text="boycott", histogram=timedelta(minutes=30), size=0)
    )
    assert [(b.start, b.count) for b in narrow.histogram] == [
        (T0, 1),
        *[(T0 + timedelta(minutes=30 * i), 0) for i in range(1, 8)],
        (T0 + timedelta(hours=4), 1),
    ], "empty buckets between the first and the last are filled"


def test_facets(store: Store) -> None:
    result = store.search(
        "mentions", SearchQuery(facets=("brand", "sentiment", "language", "source"), size=0)
    )
    assert result.total == 12 and result.hits == []
    assert result.facets == {
        "brand": [("acme", 8), ("globex", 4)],
        "sentiment": [("negative", 6), ("neutral", 4), ("positive", 2)],
        "language": [("en", 9), ("de", 3)],
        "source": [("rss", 8), ("mastodon", 4)],
    }
    filtered = store.search("mentions", SearchQuery(text="service", facets=("sentiment",), size=0))
    assert filtered.facets["sentiment"] == [("negative", 3), ("positive", 2)]
    tied = store.search(
        "mentions", SearchQuery(text="outage OR quarterly", facets=("sentiment", "brand"), size=0)
    )
    assert tied.facets == {
        "sentiment": [("negative", 1), ("neutral", 1)],
        "brand": [("acme", 1), ("globex", 1)],
    }, "ties in count are ordered by term"


def test_highlights_mark_matches_and_escape_html(store: Store) -> None:
    result = store.search("mentions", SearchQuery(text="boycott"))
    marks = {KEY_OF[h.id]: h.highlights for h in result.hits}
    assert "<mark>boycott</mark>" in marks["a1"]["title"][0]
    assert "<mark>boycott</mark>" in marks["a1"]["text"][0]
    g4 = marks["g4"]["text"][0]
    assert "<mark>boycott</mark>" in g4
    assert "&lt;b&gt;markup&lt;" in g4 and "&amp;" in g4, "document text is escaped"
    assert "title" not in marks["g4"], "only fields that matched are highlighted"
    plain = store.search("mentions", SearchQuery(text="boycott", highlight=False))
    assert all(h.highlights == {} for h in plain.hits)


def test_relevance_sort_returns_the_same_hits(store: Store) -> None:
    result = store.search(
        "mentions", SearchQuery(text="acme OR service", sort="relevance", size=100)
    )
    assert result.total == 10  # g1 and g4 mention neither
    assert all(h.score is not None for h in result.hits)


def test_reindexing_the_same_records_keeps_one_copy(tmp_path: Path, store: Store) -> None:
    before = store.search("mentions", SearchQuery(size=0)).total
    assert store.index_mentions(list(DOCS.values())) == len(DOCS)
    changed = DOCS["g1"].model_copy(update={"sentiment": Sentiment.NEGATIVE})
    store.index_mentions([changed])
    store.refresh()
    assert store.search("mentions", SearchQuery(size=0)).total == before
    doc = store.get("mentions", DOCS["g1"].id)
    assert doc is not None and doc["sentiment"] == "negative"
    assert store.search("mentions", SearchQuery(text="sentiment:negative", size=0)).total == 7
    store.index_mentions([DOCS["g1"]])  # put it back for the other tests
    store.refresh()
    assert store.get("mentions", "no-such-id") is None


def test_alerts_are_one_document_per_episode(store: Store) -> None:
    started = T0 + timedelta(hours=2)
    firing = Alert(
        rule="acme-negative-surge",
        rule_type="negative_share",
        brand="acme",
        severity=Severity.CRITICAL,
        state=AlertState.FIRING,
        started_at=started,
        at=started,
        summary="Negative share of Acme mentions at 80% (boycott)",
        figures={"negative_share": 0.8, "count": 10},
    )
    resolved = firing.model_copy(
        update={"state": AlertState.RESOLVED, "at": started + timedelta(hours=1), "id": ""}
    )
    resolved = Alert.model_validate(resolved.model_dump())
    assert resolved.id != firing.id and resolved.episode == firing.episode
    store.index_alerts([firing])
    store.index_alerts([firing, resolved])
    store.refresh()
    result = store.search(
        "alerts", SearchQuery(text="boycott", filters={"brand": ("acme",)}, facets=("state",))
    )
    assert result.total == 1
    assert result.hits[0].doc["state"] == "resolved"
    assert result.facets["state"] == [("resolved", 1)]
    assert "<mark>boycott</mark>" in result.hits[0].highlights["summary"][0]


def test_dropping_a_store_that_was_never_written_is_fine(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from core.store.elastic import ElasticStore

    SqliteStore(tmp_path / "empty.db").drop()
    url = request.getfixturevalue("es_url")
    ElasticStore(
        ElasticsearchSettings(hosts=(url,), index_prefix=f"never-{uuid.uuid4().hex[:8]}")
    ).drop()
