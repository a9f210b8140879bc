"""Google Alerts, Google News and Bing News search feeds through the service, against
the real feed server serving documents in the shapes those services publish."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.watchlist import Watchlist
from ingest.sources.feeds import BingNewsConfig, GoogleNewsConfig, unwrap
from tests.ingest.documents import START, feed, item, rss
from tests.ingest.feedserver import FeedServer, Route
from tests.ingest.harness import WATCHLIST, Harness

ALERTS_PATH = "/alerts/feeds/00000000000000000000/1234567890"


def alerts_atom(*entries: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:idx="urn:atom-extension:indexing">'
        "<id>tag:google.com,2005:reader/user/00000000000000000000/state/com.google/alerts/1234567890</id>"
        "<title>Google Alert - acme</title>"
        f'<link href="https://www.google.com{ALERTS_PATH}" rel="self"/>'
        "<updated>2026-06-02T14:40:00Z</updated>" + "".join(entries) + "</feed>"
    ).encode()


def alert(
    n: int,
    target: str,
    published: str,
    title: str = "&lt;b&gt;Acme&lt;/b&gt; recalls rocket skates",
) -> str:
    return (
        f"<entry><id>tag:google.com,2013:googlealerts/feed:1111111111111111111{n}</id>"
        f'<title type="html">{title}</title>'
        f'<link href="https://www.google.com/url?rct=j&amp;sa=t&amp;url={target}&amp;ct=ga&amp;cd=CAIyGjk&amp;usg=AOvVaw1"/>'
        f"<published>{published}</published><updated>{published}</updated>"
        '<content type="html">The &lt;b&gt;Acme&lt;/b&gt; Corporation said on Tuesday ...</content>'
        "<author><name/></author></entry>"
    )


def test_google_alerts_unwraps_the_redirect_and_meets_the_same_article_from_rss(
    server: FeedServer, harness: Harness
) -> None:
    article = "https://news.example.com/acme-recall"
    server.routes[ALERTS_PATH] = Route(
        alerts_atom(
            alert(
                1,
                "https://news.example.com/acme-recall%3Futm_source%3Dgoogle",
                "2026-06-02T14:30:00Z",
            ),
            alert(2, "https://blog.example.org/acme-review", "2026-06-02T14:35:00Z", "Acme review"),
        ),
        content_type="application/atom+xml",
    )
    server.routes["/news.rss"] = Route(
        rss(item("Acme recall", article, "n-1", "Tue, 02 Jun 2026 14:31:00 +0000"))
    )
    watchlist = Watchlist(
        brands=WATCHLIST.brands, feeds=(feed("newsroom", server.url("/news.rss")),)
    )
    svc = harness.service(
        {"type": "google_alerts", "name": "alerts-acme", "url": server.url(ALERTS_PATH)},
        watchlist=watchlist,
    )
    produced = svc.poll_due()
    assert len(produced) == 2  # the recall once, though both sources carry it
    alerts = [m for m in harness.raw() if m.source == "google_alerts"]
    (review,) = alerts
    assert review.url == "https://blog.example.org/acme-review"
    assert review.source_name == "alerts-acme"
    assert review.source_id == "tag:google.com,2013:googlealerts/feed:11111111111111111112"
    assert review.text == "The Acme Corporation said on Tuesday ..."


def google_news_rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        "<generator>NFE/5.0</generator><title>&quot;Acme&quot; - Google News</title>"
        "<link>https://news.google.com/search?q=acme&amp;hl=en-US&amp;gl=US&amp;ceid=US:en</link>"
        "<language>en-US</language><webMaster>news-webmaster@google.com</webMaster>"
        "<lastBuildDate>Tue, 02 Jun 2026 14:55:00 GMT</lastBuildDate>"
        "<description>Google News</description>" + "".join(items) + "</channel></rss>"
    ).encode()


def gnews_item(key: str, title: str, date: str, publisher: str = "Example News") -> str:
    link = f"https://news.google.com/rss/articles/CBMi{key}?oc=5"
    return (
        f"<item><title>{title} - {publisher}</title><link>{link}</link>"
        f'<guid isPermaLink="false">CBMi{key}</guid><pubDate>{date}</pubDate>'
        f'<description>&lt;a href="{link}" target="_blank"&gt;{title}&lt;/a&gt;&amp;nbsp;&amp;nbsp;'
        f'&lt;font color="#6f6f6f"&gt;{publisher}&lt;/font&gt;</description>'
        f'<source url="https://news.example.com">{publisher}</source></item>'
    )


GNEWS_PATH = "/rss/search?q=%22Acme%22+OR+%22Acme+Corp%22&hl=de&gl=DE&ceid=DE:de"


def gnews(server: FeedServer) -> dict[str, object]:
    return {
        "type": "google_news",
        "name": "gnews",
        "query": '"Acme" OR "Acme Corp"',
        "language": "de",
        "country": "DE",
        "base_url": server.url("/rss/search"),
    }


def test_google_news_query_url() -> None:
    config = GoogleNewsConfig(
        type="google_news", name="g", query='"Acme" OR "Acme Corp"', language="de", country="DE"
    )
    assert config.feed_url() == "https://news.google.com" + GNEWS_PATH
    default = GoogleNewsConfig(type="google_news", name="g", query="acme")
    assert (
        default.feed_url() == "https://news.google.com/rss/search?q=acme&hl=en-US&gl=US&ceid=US:en"
    )


def test_google_news_backfills_then_resumes_with_conditional_get(
    server: FeedServer, harness: Harness
) -> None:
    server.routes[GNEWS_PATH] = Route(
        google_news_rss(
            gnews_item("AAA", "Acme recalls skates", "Tue, 02 Jun 2026 14:20:00 GMT"),
            gnews_item("OLD", "Acme founded", "Mon, 01 Jun 2026 09:00:00 GMT"),  # before the window
        ),
        etag='"v1"',
    )
    svc = harness.service(gnews(server))
    (m,) = svc.poll_due()
    assert m.source == "google_news"
    assert m.url == "https://news.google.com/rss/articles/CBMiAAA?oc=5"
    assert m.title == "Acme recalls skates - Example News"
    assert m.author == "Example News"

    svc = harness.restart(gnews(server))
    server.routes[GNEWS_PATH] = Route(
        google_news_rss(
            gnews_item("BBB", "Acme CEO quits", "Tue, 02 Jun 2026 15:10:00 GMT", "Other Paper"),
            gnews_item("AAA", "Acme recalls skates", "Tue, 02 Jun 2026 14:20:00 GMT"),
            gnews_item("OLD", "Acme founded", "Mon, 01 Jun 2026 09:00:00 GMT"),
        ),
        etag='"v2"',
    )
    harness.clock.advance(600)
    assert [(m.source_id, m.author) for m in svc.poll_due()] == [("CBMiBBB", "Other Paper")]
    assert server.requests[GNEWS_PATH][-1]["if-none-match"] == '"v1"'
    # the first start's floor holds across the restart: the old story never comes
    assert len(harness.raw()) == 2


BING_PATH = "/news/search?q=acme&format=rss&qft=sortbydate%3D%221%22&mkt=en-US"


def bing_rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8" ?>'
        '<rss version="2.0" xmlns:News="https://www.bing.com:443/news/search?q=acme&amp;format=rss">'
        "<channel><title>acme - BingNews</title>"
        "<link>https://www.bing.com:443/news/search?q=acme&amp;format=rss</link>"
        "<description>Search results</description>"
        "<copyright>Copyright © 2026 Microsoft. All rights reserved.</copyright>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def bing_item(target: str, title: str, date: str, source: str) -> str:
    return (
        f"<item><title>{title}</title>"
        "<link>http://www.bing.com/news/apiclick.aspx?ref=FexRss&amp;aid=&amp;tid=6F3B"
        f"&amp;url={target}&amp;c=1234&amp;mkt=en-us</link>"
        f"<description>{title}, reports say.</description><pubDate>{date}</pubDate>"
        f"<News:Source>{source}</News:Source></item>"
    )


def test_bing_news_unwraps_click_through_links(server: FeedServer, harness: Harness) -> None:
    assert BingNewsConfig(type="bing_news", name="b", query="acme", market="en-US").feed_url() == (
        "https://www.bing.com" + BING_PATH
    )
    server.routes[BING_PATH] = Route(
        bing_rss(
            bing_item(
                "https%3a%2f%2fwww.example.org%2facme-ceo",
                "Acme CEO steps down",
                "Tue, 02 Jun 2026 14:10:00 GMT",
                "Example Org",
            )
        )
    )
    svc = harness.service(
        {
            "type": "bing_news",
            "name": "bing",
            "query": "acme",
            "market": "en-US",
            "base_url": server.url("/news/search"),
        }
    )
    (m,) = svc.poll_due()
    assert (m.source, m.url, m.author) == (
        "bing_news",
        "https://www.example.org/acme-ceo",
        "Example Org",
    )
    assert m.text == "Acme CEO steps down, reports say."
    assert server.hits(BING_PATH) == 1


def test_a_search_feed_429_waits_for_retry_after(server: FeedServer, harness: Harness) -> None:
    server.routes[BING_PATH] = Route(b"", status=429, headers={"Retry-After": "900"})
    svc = harness.service(
        {
            "type": "bing_news",
            "name": "bing",
            "query": "acme",
            "market": "en-US",
            "interval": "1m",
            "base_url": server.url("/news/search"),
        }
    )
    svc.poll_due()
    h = harness.health("bing")
    assert h.last_error == "HTTP 429 Too Many Requests"
    assert h.next_due == START + timedelta(seconds=900)


def test_unwrap_leaves_other_links_alone() -> None:
    assert unwrap(
        "https://www.google.com/url?url=javascript:alert(1)", "google.com", "/url", "url"
    ) == ("https://www.google.com/url?url=javascript:alert(1)")
    assert unwrap(
        "https://evilgoogle.com/url?url=https://x.example", "google.com", "/url", "url"
    ) == ("https://evilgoogle.com/url?url=https://x.example")
    assert unwrap(None, "google.com", "/url", "url") is None


def test_brand_hints_must_name_watchlist_brands(server: FeedServer, harness: Harness) -> None:
    with pytest.raises(ValueError, match=r"source 'gnews': brands \['nope'\]"):
        harness.service({**gnews(server), "brands": ["nope"]})
    harness.service({**gnews(server), "brands": ["acme"]})


def test_feed_and_source_names_share_one_namespace(server: FeedServer, harness: Harness) -> None:
    watchlist = Watchlist(brands=WATCHLIST.brands, feeds=(feed("gnews", server.url("/x.rss")),))
    with pytest.raises(ValueError, match=r"unique across feeds and sources: \['gnews'\]"):
        harness.service(gnews(server), watchlist=watchlist)
