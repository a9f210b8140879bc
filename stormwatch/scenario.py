"""The bundled crisis scenario: a made-up brand's normal chatter, then a storm.

"Acme" sells phones and a smart kettle. For the hours before the demo starts people talk
about it at a normal pace, in English and German, mostly neutral or mildly positive.
Then a video of a kettle overheating goes viral: within a minute or two dozens of angry
posts call for a boycott, mention a recall (Rückruf) and a lawsuit, in both languages.

`build` is deterministic for a seed. Each item has a ``release`` time: the feed server
shows an item only once its release time has passed, so the storm arrives live.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

BRAND = "acme"

_CALM_EN = [
    (
        "Acme phone review",
        "I have used the new Acme phone for a week. Battery is fine, camera is good.",
    ),
    ("Acme update", "Acme pushed a software update for the kettle app today."),
    ("Question about Acme", "Does anyone know if the Acme kettle works with 110V?"),
    ("Acme store opening", "Acme opens a new store downtown next month."),
    ("Happy with Acme", "Honestly the Acme support was friendly and quick. Nice."),
    ("Acme vs Globex", "Comparing the Acme phone with the Globex one, both are decent."),
    ("Acme quarterly numbers", "Acme reported solid quarterly numbers, analysts say."),
    ("My Acme kettle", "Morning tea from my Acme kettle, works great as always."),
]
_CALM_DE = [
    ("Acme Handy Test", "Das neue Acme Handy ist solide, der Akku hält gut durch."),
    ("Acme Wasserkocher", "Mein Acme Wasserkocher läuft seit zwei Jahren ohne Probleme."),
    ("Neuer Acme Laden", "Acme eröffnet einen neuen Laden in Berlin."),
    ("Acme Kundenservice", "Der Acme Kundenservice war freundlich und schnell, danke!"),
    ("Frage zu Acme", "Weiß jemand, ob das Acme Update schon verfügbar ist?"),
]
_STORM_EN = [
    (
        "Boycott Acme now",
        "My Acme kettle overheated and nearly burned my kitchen. Boycott Acme! #boycottacme",
    ),
    (
        "Acme kettle fire",
        "This is outrageous. Acme knew about the overheating and did nothing. Terrible, dangerous product.",
    ),
    (
        "Lawsuit against Acme",
        "Lawyers are preparing a class action lawsuit against Acme over the kettle fires.",
    ),
    (
        "Acme must recall",
        "Acme needs a full recall of the kettle right now. Disgusting how they ignore customers.",
    ),
    (
        "Never again Acme",
        "Never buying Acme again. Worst company, awful support, dangerous kettle. #boycottacme",
    ),
    (
        "Acme scandal",
        "The Acme kettle scandal is everywhere. Angry customers demand answers and refunds.",
    ),
    (
        "Acme lies",
        "Acme support lied to me about the overheating problem. I am furious. #boycottacme",
    ),
]
_STORM_DE = [
    (
        "Acme Rückruf gefordert",
        "Acme-Kunden sind wütend: Der Wasserkocher überhitzt. Wir fordern einen Rückruf!",
    ),
    (
        "Skandal bei Acme",
        "Unfassbar, Acme ignoriert die Brandgefahr. Schlechter Service, gefährliches Produkt.",
    ),
    (
        "Acme boykottieren",
        "Ich werde Acme boykottieren. Der Wasserkocher hat fast meine Küche abgefackelt. #boycottacme",
    ),
    (
        "Klage gegen Acme",
        "Verbraucherschützer prüfen eine Klage gegen Acme wegen des Wasserkochers. Katastrophe.",
    ),
    (
        "Acme enttäuscht",
        "Total enttäuscht von Acme. Keine Antwort vom Support, kein Rückruf, nichts.",
    ),
]
_AUTHORS = ["mia", "jonas", "sam", "lea", "alex", "noah", "emma", "finn", "zoe", "ben", "lina"]


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    text: str
    author: str
    language: str
    published_at: datetime
    release: datetime
    """When the item appears in the feed (== published_at for live items)."""
    storm: bool


def build(
    now: datetime,
    *,
    seed: int = 7,
    history: timedelta = timedelta(hours=3),
    calm_per_hour: int = 24,
    storm_after: timedelta = timedelta(seconds=20),
    storm_items: int = 90,
    storm_duration: timedelta = timedelta(seconds=60),
) -> list[Item]:
    """Calm history before ``now`` (released at once), calm chatter continuing live, and
    the storm starting ``storm_after`` from ``now`` and lasting ``storm_duration``."""
    rng = random.Random(seed)
    items: list[Item] = []

    def add(
        pool: list[tuple[str, str]], lang: str, when: datetime, release: datetime, storm: bool
    ) -> None:
        title, text = rng.choice(pool)
        n = len(items)
        items.append(
            Item(
                id=f"{'storm' if storm else 'calm'}-{n:04d}",
                title=title,
                text=f"{text} ({n})",
                author=rng.choice(_AUTHORS) + str(rng.randrange(100)),
                language=lang,
                published_at=when,
                release=release,
                storm=storm,
            )
        )

    total_calm = int(calm_per_hour * history.total_seconds() / 3600)
    for i in range(total_calm):
        when = now - history + history * (i + rng.random()) / total_calm
        de = rng.random() < 0.35
        add(_CALM_DE if de else _CALM_EN, "de" if de else "en", when, now - history, False)
    live_calm = max(1, int(calm_per_hour * (storm_after + storm_duration).total_seconds() / 3600))
    for i in range(live_calm):
        when = now + (storm_after + storm_duration) * (i + 0.5) / live_calm
        de = rng.random() < 0.35
        add(_CALM_DE if de else _CALM_EN, "de" if de else "en", when, when, False)
    for i in range(storm_items):
        # Posts accelerate: quadratic spacing puts most of them towards the end.
        frac = ((i + 1) / storm_items) ** 0.7
        when = now + storm_after + storm_duration * frac
        de = rng.random() < 0.4
        add(_STORM_DE if de else _STORM_EN, "de" if de else "en", when, when, True)
    return sorted(items, key=lambda it: it.release)
