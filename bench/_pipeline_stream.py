"""Synthetic mention streams for bench/pipeline.py: deterministic for a seed.

A watchlist of five brands and a competitor (``WATCHED``), posts in English and German
from templates (as long as tweets: a sentence about a brand and up to three everyday
ones), a baseline rate shared by the brands by popularity, a share of posts that name no
brand at all (search feeds catch those too), comparisons that name two brands, and
bursts: for a while one brand gets many extra posts, mostly angry, with the words the
crisis rules look for. Calm posts never contain those words (``CRISIS_WORDS``), so a
keyword rule fires only on bursts and on the latency probes.

Latency probes (`probe_brands`, `probe_mention`) are brands of their own, one per alert,
so that each probe fires its own alert and dedup never suppresses one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.records import Engagement, Mention

START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
"""Event time of the first mention of a replayed stream (fixed: the stream is
deterministic)."""

CRISIS_WORDS = ("boycott", "lawsuit", "recall", "Rückruf", "Sammelklage")


@dataclass(frozen=True)
class BrandSpec:
    id: str
    name: str
    products_en: tuple[str, ...]
    products_de: tuple[str, ...]
    weight: float
    """Share of the baseline chatter."""
    competitors: tuple[str, ...] = ()

    @property
    def handle(self) -> str:
        return f"@{self.id}"

    @property
    def hashtag(self) -> str:
        return f"#{self.id}"


WATCHED: tuple[BrandSpec, ...] = (
    BrandSpec(
        "acme", "Acme", ("phone", "kettle", "app"), ("Handy", "Wasserkocher"), 0.30, ("contoso",)
    ),
    BrandSpec("globex", "Globex", ("router", "laptop"), ("Router", "Laptop"), 0.20),
    BrandSpec("initech", "Initech", ("printer", "software"), ("Drucker", "Software"), 0.15),
    BrandSpec("hooli", "Hooli", ("search", "tablet"), ("Suche", "Tablet"), 0.15),
    BrandSpec("vandelay", "Vandelay", ("coffee", "latex gloves"), ("Kaffee", "Handschuhe"), 0.10),
    BrandSpec("contoso", "Contoso", ("phone", "earbuds"), ("Handy", "Kopfhörer"), 0.10),
)

_CALM_EN = (
    "Just got the new {brand} {product}, first impressions are good.",
    "Anyone else using the {brand} {product}? Battery life seems fine so far.",
    "{brand} pushed an update for the {product} today, changelog looks small.",
    "Honestly the {brand} support was friendly and quick. Nice. {handle}",
    "Comparing the {brand} {product} with my old one, it is a bit faster.",
    "Morning coffee and reading about the {brand} {product} launch {tag}",
    "Is the {brand} {product} worth it at this price? Thinking about it.",
    "{brand} reported quarterly numbers, analysts seem mostly happy.",
    "My {brand} {product} works great as always, no complaints.",
    "Small thing: the {brand} {product} box was hard to open lol",
    "The {brand} store downtown had a long queue this morning.",
    "{handle} when is the next {product} coming out?",
    "Mixed feelings about the {brand} {product}, the screen is meh but ok.",
    "Shipping from {brand} took three days, {product} arrived fine.",
)
_CALM_DE = (
    "Das neue {brand} {product} ist solide, bin bisher zufrieden.",
    "Mein {brand} {product} läuft seit Monaten ohne Probleme.",
    "Der {brand} Kundenservice war freundlich und schnell, danke! {handle}",
    "Weiß jemand, ob das {brand} Update für das {product} schon verfügbar ist?",
    "{brand} eröffnet einen neuen Laden in Berlin {tag}",
    "Lohnt sich das {brand} {product} zu dem Preis? Bin unsicher.",
    "Die Lieferung von {brand} kam pünktlich, {product} funktioniert.",
    "Ganz okay, das {brand} {product}, aber nichts Besonderes.",
    "Heute das {brand} {product} ausprobiert, gefällt mir gut.",
    "Hat jemand Erfahrung mit dem {brand} {product}? Bitte um Tipps.",
)
_VERSUS_EN = (
    "{brand} vs {other}: both {product}s are decent, {brand} is cheaper.",
    "Switched from {other} to {brand}, the {product} feels about the same.",
)
_VERSUS_DE = (
    "{brand} oder {other}? Beide {product} sind ganz ordentlich.",
    "Von {other} zu {brand} gewechselt, kaum ein Unterschied.",
)
_ANGRY_EN = (
    "My {brand} {product} overheated and nearly burned my kitchen. Boycott {brand}! #boycott{id}",
    "This is outrageous. {brand} knew about the problem and did nothing. Terrible, dangerous.",
    "Lawyers are preparing a class action lawsuit against {brand} over the {product}.",
    "{brand} needs a full recall of the {product} right now. Disgusting. {handle}",
    "Never buying {brand} again. Worst company, awful support. #boycott{id}",
    "The {brand} {product} scandal is everywhere. Angry customers demand refunds.",
    "{handle} lied to me about the {product} defect. I am furious.",
)
_ANGRY_DE = (
    "{brand}-Kunden sind wütend: Das {product} ist gefährlich. Wir fordern einen Rückruf!",
    "Unfassbar, {brand} ignoriert das Problem. Schlechter Service, gefährliches Produkt.",
    "Ich werde {brand} boykottieren. Das {product} ist eine Katastrophe. #boycott{id}",
    "Verbraucherschützer prüfen eine Sammelklage gegen {brand} wegen des {product}.",
    "Total enttäuscht von {brand}. Keine Antwort vom Support, kein Rückruf, nichts.",
)
_NOISE = (
    "Traffic on the ring road is terrible again this morning.",
    "Wer kommt heute Abend mit ins Kino?",
    "New blog post about sourdough baking is up, link in bio.",
    "Das Wetter in Hamburg ist heute wirklich schön.",
    "Which laptop should I buy for university? Budget is tight.",
    "Great match last night, what a finish!",
    "Kann mir jemand einen guten Zahnarzt in München empfehlen?",
)
# Everyday sentences, no brand, no crisis word, little sentiment: 0 to 3 of them follow a
# template's sentence, so that posts are as long as real ones (TweetEval's English tweets:
# 19.4 words on average; a bare template has about 10). Text work (language, matching,
# sentiment, and most of all a transformer's tokens) grows with the length.
_CONTEXT_EN = (
    "We have had it for about two weeks now.",
    "My sister asked me about it over the weekend.",
    "Not sure yet what to make of it all.",
    "Will post an update after a few more days.",
    "Curious what everyone else thinks about this one.",
    "Saw a long thread about it earlier today.",
    "Ordered it online on Monday and picked it up on Thursday.",
    "It replaced the one I had since 2019.",
    "Still reading the manual, there is a lot in it.",
    "Posting this from the train on my way to work.",
    "The colour is a bit different from the photos.",
    "Took it to the office to show my colleagues.",
)
_CONTEXT_DE = (
    "Wir haben es jetzt seit ungefähr zwei Wochen.",
    "Meine Schwester hat mich am Wochenende danach gefragt.",
    "Ich weiß noch nicht genau, was ich davon halten soll.",
    "Ich melde mich in ein paar Tagen noch mal dazu.",
    "Mich würde interessieren, was ihr davon haltet.",
    "Habe vorhin einen langen Thread dazu gelesen.",
    "Am Montag online bestellt und am Donnerstag abgeholt.",
    "Schreibe das gerade aus der Bahn auf dem Weg zur Arbeit.",
    "Die Farbe ist etwas anders als auf den Fotos.",
    "Habe es mit ins Büro genommen und den Kollegen gezeigt.",
)
_CONTEXT_COUNTS = (0, 0, 1, 1, 2, 3)
_EXTRAS = ("", "", "", " 🙂", " 😡", " https://t.example/x{n}", " (via {user})", " #tech", " 👍")
_SOURCES = (
    ("mastodon", "social.example"),
    ("bluesky", "bsky.example"),
    ("reddit", "forum.example"),
)
_USERS = ("mia", "jonas", "sam", "lea", "alex", "noah", "emma", "finn", "zoe", "ben", "lina")


@dataclass(frozen=True)
class Burst:
    """``rate`` extra mentions per second of ``brand`` from ``start`` for ``duration``
    (seconds from the stream's start), ``negative`` of them angry."""

    brand: str
    start: float
    duration: float
    rate: float
    negative: float = 0.85

    def active(self, t: float) -> bool:
        return self.start <= t < self.start + self.duration


def default_bursts(n: int, rate: float) -> list[Burst]:
    """Four bursts of ten minutes over the stream's expected span (``n / rate`` seconds),
    each at four times the brand's calm rate... at least 1.5 extra posts per second."""
    span = n / rate
    plan = (("acme", 0.45), ("hooli", 0.62), ("initech", 0.78), ("acme", 0.9))
    weights = {b.id: b.weight for b in WATCHED}
    return [
        Burst(brand, span * at, 600.0, max(1.5, 4 * rate * weights[brand]))
        for brand, at in plan
        if span * at > 0
    ]


def synthetic_stream(
    n: int,
    *,
    seed: int = 7,
    start: datetime = START,
    rate: float = 2.0,
    bursts: Sequence[Burst] | None = None,
    noise: float = 0.1,
    versus: float = 0.05,
) -> list[Mention]:
    """``n`` mentions in event-time order: a Poisson stream at ``rate`` per second (all
    brands together) plus the ``bursts`` (default: `default_bursts`). ``noise`` of the
    calm posts name no watched brand; ``versus`` name two. The same arguments give the
    same mentions."""
    rng = random.Random(seed)
    plan = list(default_bursts(n, rate) if bursts is None else bursts)
    brands = {b.id: b for b in WATCHED}
    ids, weights = [b.id for b in WATCHED], [b.weight for b in WATCHED]
    out: list[Mention] = []
    t = 0.0
    for i in range(n):
        active = [b for b in plan if b.active(t)]
        total = rate + sum(b.rate for b in active)
        t += rng.expovariate(total)
        pick = rng.random() * total
        burst = None
        for b in active:
            if pick < b.rate:
                burst = b
                break
            pick -= b.rate
        de = rng.random() < 0.35
        if burst is not None:
            spec = brands[burst.brand]
            angry = rng.random() < burst.negative
            pool = (_ANGRY_DE if de else _ANGRY_EN) if angry else (_CALM_DE if de else _CALM_EN)
            text = _fill(rng, rng.choice(pool), spec, de, i)
        elif rng.random() < noise:
            text = rng.choice(_NOISE)
        else:
            spec = brands[rng.choices(ids, weights)[0]]
            if rng.random() < versus:
                other = brands[rng.choice([x for x in ids if x != spec.id])]
                versus_pool = _VERSUS_DE if de else _VERSUS_EN
                text = _fill(rng, rng.choice(versus_pool), spec, de, i, other)
            else:
                text = _fill(rng, rng.choice(_CALM_DE if de else _CALM_EN), spec, de, i)
        out.append(_mention(rng, i, text, start + timedelta(seconds=t)))
    return out


def _fill(  # noqa: PLR0917 (a private helper with one call shape)
    rng: random.Random,
    template: str,
    spec: BrandSpec,
    de: bool,
    n: int,
    other: BrandSpec | None = None,
) -> str:
    products = spec.products_de if de else spec.products_en
    text = template.format(
        brand=spec.name,
        product=rng.choice(products),
        handle=spec.handle,
        tag=spec.hashtag,
        id=spec.id,
        other=other.name if other else "",
    )
    context = rng.sample(_CONTEXT_DE if de else _CONTEXT_EN, rng.choice(_CONTEXT_COUNTS))
    extra = rng.choice(_EXTRAS).format(n=n, user=rng.choice(_USERS))
    return " ".join([text, *context]) + extra


def _mention(rng: random.Random, i: int, text: str, when: datetime) -> Mention:
    source, host = rng.choice(_SOURCES)
    author = rng.choice(_USERS) + str(rng.randrange(1000))
    return Mention(
        source=source,
        source_name=f"bench-{source}",
        source_id=f"{i}",
        url=f"https://{host}/@{author}/{i}",
        text=text,
        author=author,
        published_at=when,
        fetched_at=when + timedelta(seconds=rng.uniform(0.5, 30)),
        engagement=Engagement(
            likes=rng.randrange(50), shares=rng.randrange(5), author_followers=rng.randrange(5000)
        ),
    )


_ONSETS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


def probe_brands(k: int, seed: int = 11) -> list[tuple[str, str]]:
    """``k`` made-up brand names, as (id, name): three-syllable words no template uses,
    distinct for a seed."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    while len(out) < k:
        word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(3)) + "x"
        if word not in seen:
            seen.add(word)
            out.append((word, word.capitalize()))
    return out


def probe_mention(name: str, serial: int, when: datetime) -> Mention:
    """A post that fires the crisis keyword rule for brand ``name`` (and nothing else)."""
    return Mention(
        source="mastodon",
        source_name="bench-probe",
        source_id=f"probe-{serial}",
        url=f"https://social.example/@probe/{serial}",
        text=f"Time to boycott {name}, their product broke on day one. Never again.",
        author="probe",
        published_at=when,
        fetched_at=when,
    )


def chatter(rng: random.Random, serial: int, when: datetime) -> Mention:
    """One calm post about a watched brand (or none), published ``when``: the background
    load of the latency runs. Never contains a crisis word."""
    if rng.random() < 0.1:
        text = rng.choice(_NOISE)
    else:
        spec = rng.choices(WATCHED, [b.weight for b in WATCHED])[0]
        de = rng.random() < 0.35
        text = _fill(rng, rng.choice(_CALM_DE if de else _CALM_EN), spec, de, serial)
    return Mention(
        source="mastodon",
        source_name="bench-chatter",
        source_id=f"chatter-{serial}",
        url=f"https://social.example/@chatter/{serial}",
        text=text,
        author="chatter",
        published_at=when,
        fetched_at=when,
    )
