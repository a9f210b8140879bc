"""Plain text and timestamps from what feeds deliver.

* `html_to_text`: markup removed, entities unescaped, script/style content dropped,
  whitespace collapsed to single spaces (block elements separate words).
* `parse_timestamp`: a feed's date string with its original UTC offset kept; never a
  naive datetime.
"""

from __future__ import annotations

import calendar
import email.utils
import time
from datetime import UTC, datetime
from html.parser import HTMLParser

# Elements whose content is not text a reader sees.
_DROP = frozenset({"script", "style", "noscript", "template", "iframe", "object", "svg"})
# Elements that separate words: "<p>a</p><p>b</p>" is "a b", not "ab" (dropped ones
# separate too: merging the words around them would make phrases no one wrote).
_BREAK = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "img", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td",
        "th", "tr", "ul",
    }
)  # fmt: skip


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            self._dropping += 1
        if tag in _DROP or tag in _BREAK:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # A self-closed <script/> has no content to drop.
        if tag in _BREAK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            self._dropping = max(0, self._dropping - 1)
        if tag in _DROP or tag in _BREAK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            self.parts.append(data)


def collapse_whitespace(text: str) -> str:
    """Runs of any Unicode whitespace (including no-break spaces) as one space, trimmed."""
    return " ".join(text.split())


def html_to_text(markup: str) -> str:
    """The text a reader of ``markup`` sees, on one line."""
    collector = _Collector()
    collector.feed(markup)
    collector.close()
    return collapse_whitespace("".join(collector.parts))


def parse_timestamp(raw: str | None, parsed_utc: time.struct_time | None) -> datetime | None:
    """A timezone-aware datetime from a feed date, or None when there is none.

    ``raw`` (RFC 822 as in RSS, or ISO 8601 as in Atom) is preferred because it keeps
    the publisher's offset (``+0200`` stays ``+02:00``); ``parsed_utc`` (feedparser's
    ``*_parsed``, always UTC) is the fallback for formats only feedparser understands,
    and for dates without an offset (``-0000``, a bare date), which are taken as UTC.
    """
    naive: datetime | None = None
    if raw:
        text = raw.strip()
        for parse in (email.utils.parsedate_to_datetime, datetime.fromisoformat):
            try:
                value = parse(text)
            except (TypeError, ValueError, IndexError, OverflowError):
                continue
            if value.tzinfo is not None and value.utcoffset() is not None:
                return value
            naive = naive or value
    if parsed_utc is not None:
        try:
            return datetime.fromtimestamp(calendar.timegm(parsed_utc), tz=UTC)
        except (OverflowError, ValueError, OSError):
            return None
    # feedparser gives nothing for some zoneless dates ("Wed, 01 May 2019 10:00:00"):
    # without this, a years-old item would be dated when it was fetched
    return naive.replace(tzinfo=UTC) if naive is not None else None
