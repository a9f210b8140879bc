from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.records import (
    Alert,
    AlertState,
    EnrichedMention,
    InvalidRecord,
    Mention,
    Severity,
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
    a = Alert(
        rule="r",
        rule_type="volume",
        brand="acme",
        severity=Severity.WARNING,
        state=AlertState.FIRING,
        started_at=WHEN,
        at=WHEN,
        summary="s",
    )
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
