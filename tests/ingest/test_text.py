from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from ingest.text import html_to_text, parse_timestamp


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>Acme &amp; Co <b>recall</b></p>", "Acme & Co recall"),
        ("<p>one</p><p>two</p>", "one two"),
        ("line<br>break<br/>again", "line break again"),
        ("Caf&eacute; &#8220;q&#8221; &#x27;s&#x27;", "Café “q” 's'"),
        ("a&nbsp;&nbsp; b\n\n\t c", "a b c"),
        ("<script>alert('x')</script>kept<style>p { color: red }</style>", "kept"),
        (
            "<div>before<script type='text/javascript'>if (a < b) {}</script>after</div>",
            "before after",
        ),
        ("<noscript>enable js</noscript><ul><li>first</li><li>second</li></ul>", "first second"),
        ("no markup at all", "no markup at all"),
        ("<p>unclosed <i>tags", "unclosed tags"),
        ("", ""),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


def test_a_timestamp_keeps_the_publishers_offset() -> None:
    value = parse_timestamp("Tue, 02 Jun 2026 14:30:00 +0200", None)
    assert value is not None
    assert value.utcoffset() == timedelta(hours=2)
    assert value == datetime(2026, 6, 2, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "offset", "utc"),
    [
        ("2026-06-02T12:00:00Z", timedelta(0), datetime(2026, 6, 2, 12, 0, tzinfo=UTC)),
        (
            "2026-06-01T08:15:00-05:00",
            timedelta(hours=-5),
            datetime(2026, 6, 1, 13, 15, tzinfo=UTC),
        ),
        (
            "2026-06-02T12:00:00.250+05:30",
            timedelta(hours=5, minutes=30),
            datetime(2026, 6, 2, 6, 30, 0, 250000, tzinfo=UTC),
        ),
        ("Tue, 02 Jun 2026 14:30:00 GMT", timedelta(0), datetime(2026, 6, 2, 14, 30, tzinfo=UTC)),
        (
            "Tue, 02 Jun 2026 09:30:00 EST",
            timedelta(hours=-5),
            datetime(2026, 6, 2, 14, 30, tzinfo=UTC),
        ),
    ],
)
def test_iso_and_rfc822_offsets(raw: str, offset: timedelta, utc: datetime) -> None:
    value = parse_timestamp(raw, None)
    assert value is not None
    assert value.utcoffset() == offset
    assert value == utc


def test_a_date_without_offset_falls_back_to_the_parsed_utc_time() -> None:
    # "-0000" means "offset unknown": email.utils gives a naive datetime, never kept
    parsed = time.strptime("2026-06-02 14:30:00", "%Y-%m-%d %H:%M:%S")
    value = parse_timestamp("Tue, 02 Jun 2026 14:30:00 -0000", parsed)
    assert value == datetime(2026, 6, 2, 14, 30, tzinfo=UTC)
    assert value is not None and value.tzinfo is not None


def test_an_unparseable_date_uses_feedparsers_value_or_nothing() -> None:
    parsed = time.strptime("2026-06-02", "%Y-%m-%d")
    assert parse_timestamp("2nd of June", parsed) == datetime(2026, 6, 2, tzinfo=UTC)
    assert parse_timestamp("2nd of June", None) is None
    assert parse_timestamp(None, None) is None
    # dates without an offset that feedparser could not read are taken as UTC too, not
    # dropped (the item would be dated when it was fetched)
    assert parse_timestamp("2026-06-02", None) == datetime(2026, 6, 2, tzinfo=UTC)
    assert parse_timestamp("Tue, 02 Jun 2026 14:30:00", None) == datetime(
        2026, 6, 2, 14, 30, tzinfo=UTC
    )
