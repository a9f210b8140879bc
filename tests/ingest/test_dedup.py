from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from core.records import Mention
from ingest.dedup import FeedHealth, IngestState
from tests.ingest.documents import START


def mention(source_name: str, url: str | None, guid: str | None = None) -> Mention:
    return Mention(
        source="rss",
        source_name=source_name,
        source_id=guid,
        url=url,
        published_at=START,
        fetched_at=START,
    )


def test_unseen_filters_by_canonical_url_and_by_guid_within_its_feed(tmp_path: Path) -> None:
    state = IngestState(tmp_path / "ingest.db")
    a = mention("news", "https://n.example/a?utm_source=x", "g-a")
    state.commit([a], {}, START)

    same_url = mention("other", "https://www.n.example/a", "other-guid")
    same_guid = mention("news", "https://n.example/a-moved", "g-a")
    guid_elsewhere = mention("blog", "https://b.example/post", "g-a")  # GUIDs are per feed
    fresh = mention("news", "https://n.example/b", "g-b")
    assert state.unseen([same_url, same_guid, guid_elsewhere, fresh]) == [guid_elsewhere, fresh]


def test_unseen_drops_repeats_within_one_batch(tmp_path: Path) -> None:
    state = IngestState(tmp_path / "ingest.db")
    first = mention("news", "https://n.example/1", "g1")
    again_by_guid = mention("news", "https://n.example/1-v2", "g1")
    again_by_url = mention("news", "https://n.example/1?fbclid=z", "g-other")
    no_guid = mention("news", "https://n.example/2")
    assert state.unseen([first, again_by_guid, again_by_url, no_guid]) == [first, no_guid]


def test_seen_entries_and_cursors_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "ingest.db"
    state = IngestState(path)
    a = mention("news", "https://n.example/a", "g-a")
    state.commit([a], {"news": {"etag": '"v1"'}}, START)
    state.close()

    reopened = IngestState(path)
    assert reopened.unseen([a]) == []
    assert reopened.cursor("news") == {"etag": '"v1"'}
    assert reopened.cursor("never-polled") == {}


def test_prune_forgets_what_is_older_than_the_cutoff(tmp_path: Path) -> None:
    state = IngestState(tmp_path / "ingest.db")
    old = mention("news", "https://n.example/old", "g-old")
    new = mention("news", "https://n.example/new", "g-new")
    state.commit([old], {}, START)
    state.commit([new], {}, START + timedelta(days=20))
    assert state.prune(START + timedelta(days=10)) == 2  # the old id and the old guid
    assert state.unseen([old, new]) == [old]
    assert state.count_since("news", START) == 1


def test_an_entry_seen_again_is_kept_while_its_feed_lists_it(tmp_path: Path) -> None:
    # an undated item is "published" at every fetch, so it always passes the age filter:
    # forgotten after the retention while still listed, it was produced again
    state = IngestState(tmp_path / "ingest.db")
    listed = mention("news", "https://n.example/undated", "g-u")
    gone = mention("news", "https://n.example/gone", "g-g")
    state.commit([listed, gone], {}, START)
    # the next polls see it again (and a moved copy under its GUID: nothing new is kept)
    moved = mention("news", "https://n.example/undated?session=2", "g-u")
    state.commit([], {}, START + timedelta(days=20), seen_again=[listed, moved])
    assert state.prune(START + timedelta(days=10)) == 2  # only the one no longer listed
    assert state.unseen([listed, gone]) == [gone]
    assert state.count_since("news", START + timedelta(days=1)) == 0  # first sight counts
    # the moved link is kept too: another feed listing it later is no new item
    assert state.unseen([mention("other", "https://n.example/undated?session=2")]) == []


def test_count_since(tmp_path: Path) -> None:
    state = IngestState(tmp_path / "ingest.db")
    state.commit([mention("news", "https://n.example/1")], {}, START)
    state.commit([mention("news", "https://n.example/2")], {}, START + timedelta(minutes=30))
    state.commit([mention("blog", "https://b.example/1")], {}, START + timedelta(minutes=30))
    assert state.count_since("news", START) == 2
    assert state.count_since("news", START + timedelta(minutes=1)) == 1
    assert state.count_since("blog", START) == 1
    assert state.count_since("nobody", START) == 0


def test_health_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "ingest.db"
    state = IngestState(path)
    assert state.load_health("news", "rss", "https://n.example/") == FeedHealth(
        "news", "rss", "https://n.example/"
    )
    health = FeedHealth(
        "news",
        "rss",
        "https://n.example/",
        last_poll_at=START,
        last_success_at=START - timedelta(hours=1),
        last_error="HTTP 500 Internal Server Error",
        last_error_at=START,
        consecutive_failures=3,
        items_recent=99,  # derived, not stored
        next_due=START + timedelta(minutes=4),
    )
    state.save_health(health)
    state.close()
    loaded = IngestState(path).load_health("news", "rss", "https://n.example/")
    assert loaded == replace(health, items_recent=0)
