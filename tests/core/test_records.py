from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core import records
from core.records import (
    MAX_TEXT,
    Alert,
    AlertState,
    EnrichedMention,
    InvalidRecord,
    Mention,
    Severity,
    Velocity,
    decode,
    encode,
)

WHEN = datetime(2026, 5, 4, 10, 30, tzinfo=timezone(timedelta(hours=2)))


def mention(**kw: object) -> Mention:
    base: dict[str, object] = {
        "source": "rss",
        "source_name": "heise",
        "url": "https://www.Example.com/a/b/?utm_source=x&b=2&a=1#top",
        "title": "Acme",
        "published_at": WHEN,
        "fetched_at": WHEN,
    }
    base.update(kw)
    return Mention(**base)  # type: ignore[arg-type]


def test_id_is_derived_from_the_canonical_url() -> None:
    a = mention()
    b = mention(url="http://example.com/a/b?a=1&b=2", source="reddit", source_name="r")
    assert a.id == b.id, "tracking params, www, scheme, fragment and order do not matter"
    assert mention(url="https://example.com/a/c").id != a.id
    assert mention(url="https://example.com/a/b?a=1&b=2#xtor=RSS-3").id == a.id  # tracking


def test_a_feed_item_without_a_link_is_keyed_by_its_feed_and_guid() -> None:
    # a GUID is unique only within its feed: two feeds' <guid>1</guid> are two items
    a = mention(url=None, source_id="1", source_name="feed-a")
    b = mention(url=None, source_id="1", source_name="feed-b")
    assert a.id != b.id
    # a platform's status ids are unique across its sources
    x1 = mention(url=None, source="x", source_id="17", source_name="x-one")
    assert x1.id == mention(url=None, source="x", source_id="17", source_name="x-two").id


def test_a_huge_text_is_cut_to_fit_one_bus_message() -> None:
    m = mention(text="a" * (MAX_TEXT + 10), title="t" * 5000)
    assert len(m.text) == MAX_TEXT and m.text.endswith("…") and len(m.title) == 2000
    assert len(encode(m)) < 1024 * 1024


def test_a_fragment_that_numbers_an_item_is_its_own_mention() -> None:
    # a comment feed: every comment links to the post with its own anchor
    post = "https://blog.example.com/acme-review"
    ids = {mention(url=f"{post}#comment-{n}").id for n in (1, 2)} | {
        mention(url=f"{post}#c3").id,
        mention(url=post).id,
    }
    assert len(ids) == 4


def test_id_falls_back_to_the_source_id() -> None:
    a = mention(url=None, source_id="123")
    assert a.id == mention(url=None, source_id="123", title="edited").id
    assert a.id != mention(url=None, source_id="124").id
    assert a.id != mention(url=None, source_id="123", source="mastodon").id


def test_a_mention_needs_an_identity() -> None:
    with pytest.raises(ValueError, match="url or a source_id"):
        mention(url=None)


def test_a_wrong_id_is_refused() -> None:
    with pytest.raises(ValueError, match="does not match"):
        mention(id="forged")


def alert(**kw: object) -> Alert:
    base: dict[str, object] = {
        "rule": "r",
        "rule_type": "volume",
        "brand": "acme",
        "severity": Severity.WARNING,
        "state": AlertState.FIRING,
        "started_at": WHEN,
        "at": WHEN,
        "summary": "s",
    }
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


def test_round_trip_keeps_timezone_and_everything_else() -> None:
    m = mention(text="Grüße", engagement={"likes": 3})
    data = encode(m)
    assert b'"v":1' in data and b'"kind":"mention"' in data
    back = decode(data, Mention)
    assert back == m
    assert back.published_at.utcoffset() == timedelta(hours=2)


def test_enriched_and_alert_round_trip() -> None:
    e = EnrichedMention(mention=mention(), brand="acme", enriched_at=WHEN)
    assert decode(encode(e), EnrichedMention) == e
    assert e.id != e.mention.id
    a = alert()
    assert decode(encode(a), Alert) == a
    same_episode_resolved = Alert(**{**a.model_dump(), "id": "", "state": "resolved"})
    assert same_episode_resolved.fingerprint == a.fingerprint
    assert same_episode_resolved.episode == a.episode
    assert same_episode_resolved.id != a.id


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff", "not JSON"),
        (b"[1]", "expected a JSON object"),
        (b'{"v": 1, "kind": "alert"}', "kind is 'alert'"),
        (b'{"v": 2, "kind": "mention"}', "unsupported schema version 2"),
        (
            b'{"v":1,"kind":"mention","source":"rss","source_name":"x","url":"u",'
            b'"published_at":"2026-01-01T00:00:00","fetched_at":"2026-01-01T00:00:00Z"}',
            "mention.published_at: Input should have timezone info",
        ),
        (
            b'{"v":1,"kind":"mention","source":"rss","source_name":"x","url":"u",'
            b'"published_at":"2026-01-01T00:00:00Z","fetched_at":"2026-01-01T00:00:00Z",'
            b'"engagement":{"likes":-1}}',
            "mention.engagement.likes",
        ),
        (
            b'{"v":1,"kind":"mention","source":"rss","source_name":"x","url":"u",'
            b'"published_at":"2026-01-01T00:00:00Z","fetched_at":"2026-01-01T00:00:00Z",'
            b'"colour":"red"}',
            "mention.colour: Extra inputs are not permitted",
        ),
    ],
)
def test_invalid_records_name_the_field(data: bytes, message: str) -> None:
    with pytest.raises(InvalidRecord) as info:
        decode(data, Mention)
    assert message in str(info.value)


def test_naive_datetimes_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="timezone"):
        mention(published_at=datetime(2026, 1, 1))
    assert mention(published_at=datetime(2026, 1, 1, tzinfo=UTC)).published_at.tzinfo


# -- ids are made once: derived (or checked) at construction, kept by decode -------------
def _with(data: bytes, **changes: object) -> bytes:
    body = json.loads(data)
    body.update(changes)
    return json.dumps(body).encode()


def test_decode_keeps_the_id_it_is_given_construction_still_checks_it() -> None:
    data = _with(encode(mention()), id="kept-as-given")
    assert decode(data, Mention).id == "kept-as-given"
    body = {k: v for k, v in json.loads(data).items() if k != "kind"}
    with pytest.raises(ValueError, match="does not match"):
        Mention(**body)
    with pytest.raises(ValueError, match="does not match"):
        Mention.model_validate(body)


@pytest.mark.parametrize("missing", [{"id": ""}, {"id": None}])
def test_decode_derives_a_missing_or_empty_id(missing: dict[str, object]) -> None:
    m = mention()
    body = json.loads(encode(m))
    if missing["id"] is None:
        del body["id"]
    else:
        body["id"] = ""
    assert decode(json.dumps(body), Mention).id == m.id


def test_decode_still_needs_an_identity() -> None:
    data = _with(encode(mention()), url=None, source_id=None)
    with pytest.raises(InvalidRecord, match="mention: Value error, a mention needs a url"):
        decode(data, Mention)


def test_decode_keeps_the_ids_of_enriched_mentions_and_alerts() -> None:
    e = EnrichedMention(mention=mention(), brand="acme", enriched_at=WHEN)
    body = json.loads(encode(e))
    body["id"], body["mention"]["id"] = "enriched-id", "mention-id"
    back = decode(json.dumps(body), EnrichedMention)
    assert (back.id, back.mention.id) == ("enriched-id", "mention-id")
    a = alert()
    kept = decode(_with(encode(a), id="alert-id", fingerprint="fp"), Alert)
    assert (kept.id, kept.fingerprint) == ("alert-id", "fp")
    derived = decode(_with(encode(a), id="", fingerprint=""), Alert)
    assert (derived.id, derived.fingerprint) == (a.id, a.fingerprint)


def test_a_mention_put_into_a_record_is_not_checked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = decode(_with(encode(mention()), id="from-the-bus"), Mention)
    calls: list[object] = []

    def counting_mention_id(*parts: object) -> str:
        calls.append(parts)
        return "derived"

    monkeypatch.setattr(records, "mention_id", counting_mention_id)
    e = EnrichedMention(mention=m, brand="acme", enriched_at=WHEN)
    assert e.mention is m and e.mention.id == "from-the-bus"
    assert calls == [], "the mention's id was checked when it was made"
    with pytest.raises(ValueError, match="does not match"):
        EnrichedMention(mention=m.model_dump(), brand="acme", enriched_at=WHEN)


# -- encoding ------------------------------------------------------------------------------
def _former_encode(record: Mention | EnrichedMention | Alert) -> bytes:
    """What encode wrote before it let pydantic write the JSON."""
    body = {**record.model_dump(mode="json"), "kind": record.kind}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def test_encode_writes_the_same_bytes_as_before() -> None:
    e = EnrichedMention(
        mention=mention(text='Grüße \U0001f600 "quoted" \\ end', engagement={"likes": 3}),
        brand="acme",
        matched=("Acme",),
        sentiment_score=-0.25,
        velocity=Velocity(window_count=3, baseline=1.5, zscore=2.0, surprise=0.125),
        enriched_at=WHEN,
    )
    a = alert(summary="ß", figures={"count": 12.0}, labels={"team": "comms"})
    for record in (e.mention, e, a):
        assert encode(record) == _former_encode(record)
    assert list(json.loads(encode(e)))[-1] == "kind"


def test_encode_writes_floats_with_the_same_value() -> None:
    # pydantic spells some floats differently from json.dumps (1e-7, not 1e-07)
    v = Velocity(window_count=3, baseline=1e-7, zscore=0.1 + 0.2, acceleration=1e22)
    e = EnrichedMention(mention=mention(), brand="acme", velocity=v, enriched_at=WHEN)
    assert json.loads(encode(e)) == json.loads(_former_encode(e))
    assert decode(encode(e), EnrichedMention) == e


def test_infinite_and_nan_figures_round_trip() -> None:
    v = Velocity(window_count=1, baseline=0.0, zscore=math.inf, acceleration=-math.inf)
    e = EnrichedMention(mention=mention(), brand="acme", velocity=v, enriched_at=WHEN)
    data = encode(e)
    assert b'"zscore":Infinity' in data, "written as json.dumps writes them"
    back = decode(data, EnrichedMention)
    assert back.velocity is not None and back.velocity.zscore == math.inf
    assert back.velocity.acceleration == -math.inf
    nan = encode(
        EnrichedMention(
            mention=mention(),
            brand="a",
            velocity=v.model_copy(update={"zscore": math.nan}),
            enriched_at=WHEN,
        )
    )
    assert b'"zscore":NaN' in nan
    back_nan = decode(nan, EnrichedMention).velocity
    assert back_nan is not None and math.isnan(back_nan.zscore)


@pytest.fixture
def sharing() -> Iterator[None]:
    records.share_decoded(3)
    yield
    records.share_decoded(0)


def test_decoding_what_this_process_encoded_gives_the_record_back_while_shared(
    sharing: None,
) -> None:
    m = mention(text="Acme again")
    data = encode(m)
    assert decode(data, Mention) is m
    assert decode(bytes(bytearray(data)), Mention) is m  # equal bytes read back elsewhere
    e = EnrichedMention(mention=m, brand="acme", enriched_at=WHEN)
    assert decode(encode(e), EnrichedMention) is e
    with pytest.raises(InvalidRecord, match="kind is 'mention'"):
        decode(data, EnrichedMention)  # the wrong type is still refused
    for i in range(3):  # only the last 3 are kept
        encode(mention(text=f"filler {i}", url=f"https://example.com/{i}"))
    back = decode(data, Mention)
    assert back == m and back is not m


def test_decode_parses_every_time_when_not_shared() -> None:
    m = mention(text="Acme")
    back = decode(encode(m), Mention)
    assert back == m and back is not m
