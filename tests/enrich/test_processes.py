"""The match step's text work in child processes (``enrich.processes``): the same records
as in the stage's own thread, in order, and a child that dies costs a retried batch."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator

import pytest

from core.records import Mention
from core.watchlist import Watchlist
from enrich.enricher import Enricher
from enrich.processes import ProcessAnalyser
from enrich.sentiment import LexiconScorer
from enrich.settings import EnrichSettings

MentionFactory = Callable[..., Mention]

TEXTS = [
    "Der Kundenservice von Acme ist eine Katastrophe, Globex ist viel besser!",
    "I love the new Acme app, great work",
    "Nothing to see here, just the weather report for today.",
    "Acme Corp careers: we are hiring",
    "Müller Milch ruft Joghurt zurück #Rückruf",
    "#boycottacme this is the worst company ever",
    "Lunch at Café Noir was lovely",
    "Großmann und Acme: beide furchtbar",
]


@pytest.fixture(scope="module")
def analyser(watchlist: Watchlist) -> Iterator[ProcessAnalyser]:
    pool = ProcessAnalyser(watchlist, EnrichSettings(processes=2), 2)
    yield pool
    pool.close()


def test_child_processes_give_the_records_the_stage_thread_gives_in_the_same_order(
    watchlist: Watchlist,
    lexicon: LexiconScorer,
    analyser: ProcessAnalyser,
    make_mention: MentionFactory,
) -> None:
    mentions = [make_mention(t, language="de" if i % 3 else None) for i, t in enumerate(TEXTS * 5)]
    here = Enricher(watchlist, EnrichSettings(), lexicon)
    there = Enricher(watchlist, EnrichSettings(processes=2), analyser=analyser)

    expected = here.enrich(mentions)
    got = there.enrich(mentions)

    assert got == expected
    assert len(got) > len(TEXTS)  # several brands per text, not an empty comparison
    assert (there.matched, there.unmatched) == (here.matched, here.unmatched)
    assert there.unmatched == 10  # the weather report and the careers post, five times


def test_a_child_that_dies_fails_the_batch_once_and_new_children_take_over(
    watchlist: Watchlist, lexicon: LexiconScorer, make_mention: MentionFactory
) -> None:
    others = set(multiprocessing.active_children())
    pool = ProcessAnalyser(watchlist, EnrichSettings(processes=1), 1)
    try:
        texts, tags = TEXTS, [None] * len(TEXTS)
        before = pool.analyse(texts, tags)
        (child,) = set(multiprocessing.active_children()) - others
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)

        with pytest.raises(RuntimeError, match="match process died"):
            pool.analyse(texts, tags)
        assert pool.analyse(texts, tags) == before
        (new,) = set(multiprocessing.active_children()) - others
        assert new.pid != child.pid
    finally:
        pool.close()
    assert set(multiprocessing.active_children()) - others == set()


def test_ctrl_c_is_left_to_the_parent(
    watchlist: Watchlist, analyser: ProcessAnalyser, make_mention: MentionFactory
) -> None:
    before = analyser.analyse(TEXTS, [None] * len(TEXTS))
    for child in multiprocessing.active_children():
        assert child.pid is not None
        os.kill(child.pid, signal.SIGINT)  # what Ctrl-C sends the whole process group
    time.sleep(0.5)  # time for a child that did not ignore it to die
    assert analyser.analyse(TEXTS, [None] * len(TEXTS)) == before


def test_processes_below_one_are_refused(watchlist: Watchlist) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ProcessAnalyser(watchlist, EnrichSettings(), 0)
