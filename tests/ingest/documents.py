"""Feed documents, feeds and watchlists the ingest tests build."""

from __future__ import annotations

from datetime import UTC, datetime

from core.watchlist import Brand, Feed, Watchlist

START = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
RECENT = "Tue, 02 Jun 2026 14:30:00 +0200"


def feed(name: str, url: str, **kw: object) -> Feed:
    values: dict[str, object] = {"interval": "1m", "timeout": "3s", **kw}
    return Feed.model_validate({"name": name, "url": url, **values})


def watchlist(*feeds: Feed) -> Watchlist:
    return Watchlist(brands=(Brand(id="acme", name="Acme"),), feeds=feeds)


# -- documents ---------------------------------------------------------------------------


def rss(*items: str, title: str = "Acme News") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{title}</title><link>https://news.example.com/</link>"
        "<description>news</description>" + "".join(items) + "</channel></rss>"
    ).encode()


def item(
    title: str,
    link: str | None = None,
    guid: str | None = None,
    date: str | None = None,
    description: str | None = None,
    extra: str = "",
) -> str:
    parts = [f"<title>{title}</title>"]
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if date is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    if description is not None:
        parts.append(f"<description>{description}</description>")
    parts.append(extra)
    return "<item>" + "".join(parts) + "</item>"


def atom(*entries: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Acme Blog</title>'
        "<id>urn:example:acme-blog</id><updated>2026-06-02T12:00:00Z</updated>"
        + "".join(entries)
        + "</feed>"
    ).encode()


def simple_items(*keys: str) -> bytes:
    """An RSS document with one dated item per key."""
    return rss(
        *(item(f"Story {k}", f"https://news.example.com/{k}", f"story-{k}", RECENT) for k in keys)
    )


def news_rss() -> bytes:
    """RSS 2.0 with markup, entities, offsets, a missing date, duplicate GUIDs and
    tracking parameters; 4 distinct stories in 6 items."""
    return rss(
        item(
            "Acme &amp; Co &lt;b&gt;recall&lt;/b&gt;",
            "https://news.example.com/acme-recall?utm_source=rss&amp;utm_medium=feed&amp;id=7",
            "acme-recall-7",
            "Tue, 02 Jun 2026 14:30:00 +0200",
            "&lt;p&gt;Customers are &lt;em&gt;angry&lt;/em&gt; &amp;amp; loud.&lt;/p&gt;"
            "&lt;script&gt;track()&lt;/script&gt;"
            "&lt;p&gt;Caf&amp;eacute; &amp;#8220;quotes&amp;#8221;&lt;/p&gt;",
            extra="<author>press@acme.example (Jo Press)</author>",
        ),
        # the same GUID again with another link: the same entry, counted once
        item("Acme recall (updated)", "https://news.example.com/acme-recall-v2", "acme-recall-7"),
        # another GUID, but the same article once tracking parameters are gone
        item(
            "Acme recall, syndicated",
            "http://www.news.example.com/acme-recall?id=7&amp;fbclid=xyz",
            "syndicated-99",
            "Tue, 02 Jun 2026 15:00:00 +0200",
        ),
        item(
            "Undated &#8211; story",
            "https://news.example.com/undated",
            "undated-1",
            None,
            "Plain words",
        ),
        item(
            "Full text",
            "https://news.example.com/full",
            "full-1",
            "Mon, 01 Jun 2026 23:59:59 -0700",
            "Short teaser",
            extra="<content:encoded><![CDATA[<p>The <b>whole</b> story, at length.</p>]]></content:encoded>",
        ),
        item("Relative link", "/relative/9", None, "Tue, 02 Jun 2026 10:00:00 GMT", "rel"),
    )


def blog_atom() -> bytes:
    """Atom with HTML and plain-text constructs, Z and -05:00 offsets, and one entry
    that is the news feed's recall article behind other tracking parameters."""
    return atom(
        "<entry><id>tag:blog.example.com,2026:1</id>"
        '<title type="html">Acme &amp;amp; friends</title>'
        '<link rel="alternate" href="https://blog.example.com/posts/1?fbclid=abc"/>'
        "<published>2026-06-02T12:00:00Z</published><updated>2026-06-02T13:00:00Z</updated>"
        "<author><name>Ann Blogger</name></author>"
        '<content type="html">&lt;div&gt;Full&amp;nbsp;&lt;b&gt;text&lt;/b&gt;&lt;/div&gt;'
        "&lt;style&gt;p { color: red }&lt;/style&gt;</content>"
        "<summary>short</summary></entry>",
        "<entry><id>tag:blog.example.com,2026:2</id><title>Only updated</title>"
        '<link href="https://blog.example.com/posts/2"/>'
        "<updated>2026-06-01T08:15:00-05:00</updated>"
        '<summary type="text">a &lt;b&gt; literal</summary></entry>',
        "<entry><id>tag:blog.example.com,2026:3</id><title>Recall, quoted</title>"
        '<link href="https://news.example.com/acme-recall?id=7&amp;utm_campaign=blog"/>'
        "<updated>2026-06-02T13:30:00Z</updated></entry>",
    )
