"""The delivery pipeline with scripted notifiers: mute, dedup, routing, retries, restore."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pytest

from alerting.notification_log import NotificationRecord, Status, decode_record, encode_record
from alerting.notifiers.base import DeliveryError
from alerting.pipeline import AlertingPipeline, build_pipeline
from alerting.settings import Silence
from alerting.state import AlertingState, restore_from_messages
from core import topics
from core.bus.port import Message
from core.clock import ManualClock
from core.records import Alert, AlertState

from .helpers import BAD, DOWN, T0, Scripted, make_alert, make_settings, resolved_of


def pipeline(
    clock: ManualClock, *notifiers: Scripted, state: AlertingState | None = None, **kw: Any
) -> AlertingPipeline:
    return build_pipeline(make_settings(**kw), {n.name: n for n in notifiers}, clock, state)


def statuses(records: list[NotificationRecord]) -> list[tuple[str, Status]]:
    return [(r.receiver, r.status) for r in records]


def as_messages(records: Iterable[NotificationRecord]) -> list[Message]:
    return [
        Message(topics.NOTIFICATIONS, 0, i, r.fingerprint.encode(), encode_record(r))
        for i, r in enumerate(records)
    ]


# -- first attempt, dedup, resolve --------------------------------------------------------
def test_first_attempt_is_inline_and_logged(clock: ManualClock) -> None:
    slack = Scripted("slack")
    alert = make_alert()
    [record] = pipeline(clock, slack).on_alert(alert)
    assert [n.alert for n in slack.sent] == [alert]
    assert record.status is Status.SENT and record.attempt == 1
    assert (record.fingerprint, record.episode, record.alert_id) == (
        alert.fingerprint,
        alert.episode,
        alert.id,
    )
    assert record.state is AlertState.FIRING and record.receiver == "slack"
    assert record.at == T0 and record.error is None and record.next_attempt_at is None
    assert decode_record(encode_record(record)) == record


def test_a_duplicate_alert_is_not_paged_again(clock: ManualClock) -> None:
    slack = Scripted("slack")
    p = pipeline(clock, slack)
    alert = make_alert()
    p.on_alert(alert)
    clock.advance(60)
    [again] = p.on_alert(alert)
    assert again.status is Status.DEDUPLICATED and "already sent" in (again.reason or "")
    assert len(slack.sent) == 1


def test_resolved_is_sent_once(clock: ManualClock) -> None:
    slack = Scripted("slack")
    p = pipeline(clock, slack)
    firing = make_alert()
    p.on_alert(firing)
    resolved = resolved_of(firing)
    clock.advance(3600)
    assert statuses(p.on_alert(resolved)) == [("slack", Status.SENT)]
    assert statuses(p.on_alert(resolved)) == [("slack", Status.DEDUPLICATED)]
    assert [n.alert.state for n in slack.sent] == [AlertState.FIRING, AlertState.RESOLVED]


def test_resolved_without_a_sent_firing_is_not_sent(clock: ManualClock) -> None:
    slack = Scripted("slack")
    p = pipeline(clock, slack)
    [record] = p.on_alert(resolved_of(make_alert()))
    assert record.status is Status.DEDUPLICATED and record.reason == "its firing was not sent"
    assert slack.sent == []


def flapped(clock: ManualClock, slack: Scripted) -> tuple[AlertingPipeline, Alert, Alert]:
    """A pipeline that paged an episode (``first``) and its resolution half an hour later;
    ``second``, the next episode of the same fingerprint an hour after the first, is not
    delivered yet."""
    p = pipeline(clock, slack)
    first = make_alert(started_at=T0)
    p.on_alert(first)
    clock.advance(1800)
    p.on_alert(resolved_of(first, timedelta(minutes=30)))
    clock.advance(1800)
    return p, first, make_alert(started_at=T0 + timedelta(hours=1))


def test_a_new_episode_within_the_repeat_interval_is_not_paged(clock: ManualClock) -> None:
    slack = Scripted("slack")
    p, first, second = flapped(clock, slack)
    [record] = p.on_alert(second)
    assert record.status is Status.DEDUPLICATED and "repeat interval" in (record.reason or "")
    assert record.next_attempt_at == T0 + timedelta(hours=4)  # looked at again then
    # its resolved is not sent either: its firing was not
    assert p.on_alert(resolved_of(second))[0].status is Status.DEDUPLICATED
    clock.advance(4 * 3600)  # past the repeat interval, a third episode pages again
    # (the second's firing, looked at again, goes nowhere: it resolved meanwhile)
    [looked] = p.on_tick()
    assert looked.status is Status.DEDUPLICATED
    assert looked.reason == "its episode resolved before it was paged"
    third = make_alert(started_at=T0 + timedelta(hours=6))
    assert p.on_alert(third)[0].status is Status.SENT
    assert [n.alert for n in slack.sent] == [
        first,
        resolved_of(first, timedelta(minutes=30)),
        third,
    ]


def test_a_new_episode_still_on_when_the_repeat_interval_ends_pages_then(
    clock: ManualClock,
) -> None:
    # the receiver was told the first episode resolved: it must hear of the second
    slack = Scripted("slack")
    p, _, second = flapped(clock, slack)
    assert statuses(p.on_alert(second)) == [("slack", Status.DEDUPLICATED)]
    clock.advance(3 * 3600 - 60)
    assert p.on_tick() == []
    clock.advance(60)  # four hours after the first page
    assert statuses(p.on_tick()) == [("slack", Status.SENT)]
    assert slack.sent[-1].alert == second
    assert p.on_tick() == [] and p.state.pending_count() == 0
    assert statuses(p.on_alert(resolved_of(second))) == [("slack", Status.SENT)]


def test_an_older_episode_arriving_late_is_stale(clock: ManualClock) -> None:
    slack = Scripted("slack")
    p = pipeline(clock, slack, repeat_interval=timedelta(0))
    p.on_alert(make_alert(started_at=T0))
    late = make_alert(started_at=T0 - timedelta(hours=2))
    [record] = p.on_alert(late)
    assert record.status is Status.DEDUPLICATED and "older episode" in (record.reason or "")


def test_routing_rule_receivers_else_defaults_and_send_resolved(clock: ManualClock) -> None:
    slack, mail, quiet = Scripted("slack"), Scripted("mail"), Scripted("quiet")
    p = pipeline(clock, slack, mail, quiet)
    routed = make_alert(receivers=("mail", "quiet"))
    assert statuses(p.on_alert(routed)) == [("mail", Status.SENT), ("quiet", Status.SENT)]
    assert statuses(p.on_alert(make_alert(rule="other"))) == [("slack", Status.SENT)]
    # "quiet" has send_resolved: false
    assert statuses(p.on_alert(resolved_of(routed))) == [("mail", Status.SENT)]
    assert [len(slack.sent), len(mail.sent), len(quiet.sent)] == [1, 2, 1]


def test_unknown_receiver_fails_clearly_and_others_go_on(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    slack = Scripted("slack")
    p = pipeline(clock, slack)
    records = p.on_alert(make_alert(receivers=("pager", "slack")))
    assert statuses(records) == [("pager", Status.FAILED), ("slack", Status.SENT)]
    assert records[0].error == "no receiver named 'pager' is configured"
    assert "no receiver named 'pager'" in caplog.text


# -- silences ---------------------------------------------------------------------------
def test_an_active_silence_mutes_every_receiver(clock: ManualClock) -> None:
    slack, mail = Scripted("slack"), Scripted("mail")
    silence = Silence(brand="acme", ends_at=T0 + timedelta(hours=1), comment="launch day")
    p = pipeline(clock, slack, mail, silences=(silence,))
    alert = make_alert(receivers=("slack", "mail"))
    records = p.on_alert(alert)
    assert statuses(records) == [("slack", Status.MUTED), ("mail", Status.MUTED)]
    assert records[0].reason == "silence brand=acme (launch day)"
    assert p.on_alert(make_alert(brand="globex"))[0].status is Status.SENT  # not matched
    clock.advance(3600)  # the silence is over: the same alert, redelivered, now pages
    assert statuses(p.on_alert(alert)) == [("slack", Status.SENT), ("mail", Status.SENT)]
    assert slack.sent[-1].alert == alert


def test_a_storm_that_began_in_a_silence_pages_when_it_ends(clock: ManualClock) -> None:
    slack = Scripted("slack")
    silence = Silence(brand="acme", ends_at=T0 + timedelta(minutes=10), comment="launch")
    p = pipeline(clock, slack, silences=(silence,))
    alert = make_alert()
    [muted] = p.on_alert(alert)
    assert muted.status is Status.MUTED and muted.next_attempt_at == silence.ends_at
    clock.advance(599)
    assert p.on_tick() == []
    clock.advance(1)
    assert statuses(p.on_tick()) == [("slack", Status.SENT)]
    assert [n.alert for n in slack.sent] == [alert]
    assert statuses(p.on_alert(resolved_of(alert))) == [("slack", Status.SENT)]


def test_a_storm_over_within_its_silence_never_pages(clock: ManualClock) -> None:
    slack = Scripted("slack")
    silence = Silence(brand="acme", ends_at=T0 + timedelta(minutes=10))
    p = pipeline(clock, slack, silences=(silence,))
    alert = make_alert()
    p.on_alert(alert)
    clock.advance(300)
    assert statuses(p.on_alert(resolved_of(alert, timedelta(minutes=5)))) == [
        ("slack", Status.MUTED)
    ]
    clock.advance(300)
    assert statuses(p.on_tick()) == [("slack", Status.DEDUPLICATED)]
    assert slack.sent == [] and p.state.pending_count() == 0


def test_a_storm_over_within_its_silence_never_pages_a_receiver_not_told_of_ends(
    clock: ManualClock,
) -> None:
    # "quiet" has send_resolved: false: it gets no resolution, yet must learn of one
    quiet = Scripted("quiet")
    silence = Silence(brand="acme", ends_at=T0 + timedelta(minutes=10))
    p = pipeline(clock, quiet, silences=(silence,))
    alert = make_alert(receivers=("quiet",))
    p.on_alert(alert)
    clock.advance(300)
    p.on_alert(resolved_of(alert, timedelta(minutes=5)))
    clock.advance(300)
    assert statuses(p.on_tick()) == [("quiet", Status.DEDUPLICATED)]
    assert quiet.sent == [] and p.state.pending_count() == 0


def test_a_silence_without_an_end_mutes_for_good(clock: ManualClock) -> None:
    slack = Scripted("slack")
    p = pipeline(clock, slack, silences=(Silence(brand="acme"),))
    [muted] = p.on_alert(make_alert())
    assert muted.status is Status.MUTED and muted.next_attempt_at is None
    assert p.state.pending_count() == 0


# -- retries ----------------------------------------------------------------------------
def test_retryable_failure_is_queued_with_backoff_not_waited_for(clock: ManualClock) -> None:
    slack = Scripted("slack", [DOWN, DOWN])
    p = pipeline(clock, slack)
    [first] = p.on_alert(make_alert())
    assert first.status is Status.RETRYING and first.attempt == 1
    assert first.error == "scripted receiver: cannot reach host"
    assert first.next_attempt_at == T0 + timedelta(seconds=10)
    clock.advance(9)
    assert p.on_tick() == []  # not due yet
    clock.advance(1)
    [second] = p.on_tick()
    assert second.status is Status.RETRYING and second.attempt == 2
    assert second.next_attempt_at == T0 + timedelta(seconds=10 + 20)
    clock.advance(20)
    [third] = p.on_tick()
    assert third.status is Status.SENT and third.attempt == 3
    assert p.on_tick() == [] and p.state.pending_count() == 0
    assert slack.attempts == 3 and len(slack.sent) == 1


def test_gives_up_after_max_attempts_and_logs_an_error(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    slack = Scripted("slack", always=DOWN)
    p = pipeline(clock, slack)
    records = p.on_alert(make_alert())
    for _ in range(10):
        clock.advance(600)
        records += p.on_tick()
    assert [r.status for r in records] == [Status.RETRYING] * 3 + [Status.FAILED]
    assert [r.attempt for r in records] == [1, 2, 3, 4]
    assert slack.attempts == 4
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "gave up after 4 attempts" in errors[0].getMessage()
    # the failure is not a page: the same alert redelivered gets another chance
    slack.always = None
    assert p.on_alert(make_alert())[0].status is Status.SENT


def test_a_non_retryable_failure_fails_at_once(clock: ManualClock) -> None:
    slack = Scripted("slack", [BAD])
    p = pipeline(clock, slack)
    [record] = p.on_alert(make_alert())
    assert record.status is Status.FAILED and record.error == "scripted receiver: HTTP 404"
    assert p.state.pending_count() == 0


def test_one_receiver_down_stops_nothing_else(clock: ManualClock) -> None:
    slack, mail = Scripted("slack", always=DOWN), Scripted("mail")
    p = pipeline(clock, slack, mail, default_receivers=("slack", "mail"))
    assert statuses(p.on_alert(make_alert())) == [("slack", Status.RETRYING), ("mail", Status.SENT)]
    later = make_alert(brand="globex")
    assert statuses(p.on_alert(later)) == [("slack", Status.RETRYING), ("mail", Status.SENT)]
    assert [n.alert.brand for n in mail.sent] == ["acme", "globex"]


def test_a_notifier_bug_fails_the_delivery_not_the_stage(clock: ManualClock) -> None:
    class Broken(Scripted):
        def secrets(self) -> tuple[str, ...]:
            return ("p4ssw0rd",)

    broken = Broken("slack", always=KeyError("p4ssw0rd"))
    mail = Scripted("mail")
    p = pipeline(clock, broken, mail, default_receivers=("slack", "mail"))
    records = p.on_alert(make_alert())
    assert statuses(records) == [("slack", Status.FAILED), ("mail", Status.SENT)]
    assert "unexpected error: KeyError" in (records[0].error or "")
    assert "p4ssw0rd" not in (records[0].error or "")


def test_retry_after_is_honoured(clock: ManualClock) -> None:
    slow = DeliveryError("429", retryable=True, retry_after=120)
    p = pipeline(clock, Scripted("slack", [slow]))
    assert p.on_alert(make_alert())[0].next_attempt_at == T0 + timedelta(seconds=120)


def test_a_resolved_waits_behind_its_firing_retry(clock: ManualClock) -> None:
    slack = Scripted("slack", [DOWN])
    p = pipeline(clock, slack)
    firing = make_alert()
    p.on_alert(firing)
    clock.advance(5)
    [waiting] = p.on_alert(resolved_of(firing, timedelta(seconds=5)))
    assert waiting.status is Status.RETRYING and waiting.attempt == 0
    assert waiting.next_attempt_at == T0 + timedelta(seconds=10)
    clock.advance(5)
    assert statuses(p.on_tick()) == [("slack", Status.SENT), ("slack", Status.SENT)]
    assert [n.alert.state for n in slack.sent] == [AlertState.FIRING, AlertState.RESOLVED]


def test_a_resolved_whose_firing_never_got_through_is_dropped(clock: ManualClock) -> None:
    slack = Scripted("slack", always=DOWN)
    p = pipeline(clock, slack)
    firing = make_alert()
    p.on_alert(firing)
    p.on_alert(resolved_of(firing, timedelta(seconds=1)))
    records: list[NotificationRecord] = []
    for _ in range(10):
        clock.advance(600)
        records += p.on_tick()
    assert records[-1].state is AlertState.RESOLVED
    assert records[-1].status is Status.DEDUPLICATED
    assert records[-2].state is AlertState.FIRING and records[-2].status is Status.FAILED
    assert p.state.pending_count() == 0


def test_a_receiver_that_is_down_holds_its_pages_and_delays_no_other(
    clock: ManualClock,
) -> None:
    # each attempt at a dead receiver can take its whole timeout, in the stage's thread:
    # once it failed, its other pages wait in the queue for its retry instead
    slack, mail = Scripted("slack", [DOWN]), Scripted("mail")
    p = pipeline(clock, slack, mail)
    alerts = [make_alert(rule=f"r{i}", receivers=("slack", "mail")) for i in range(3)]
    records = [r for a in alerts for r in p.on_alert(a)]
    assert statuses(records) == [("slack", Status.RETRYING), ("mail", Status.SENT)] * 3
    assert slack.attempts == 1 and len(mail.sent) == 3
    assert {r.next_attempt_at for r in records if r.receiver == "slack"} == {
        records[0].next_attempt_at
    }
    clock.advance(60)  # back up: the first retry goes through and lets the others follow
    assert statuses(p.on_tick()) == [("slack", Status.SENT)] * 3
    assert slack.attempts == 4 and p.state.pending_count() == 0


def test_a_silence_stops_queued_retries(clock: ManualClock) -> None:
    slack = Scripted("slack", always=DOWN)
    settings = make_settings(silences=(Silence(brand="acme", starts_at=T0 + timedelta(seconds=5)),))
    p = build_pipeline(settings, {"slack": slack}, clock)
    p.on_alert(make_alert())
    clock.advance(10)
    [record] = p.on_tick()
    assert record.status is Status.MUTED and p.state.pending_count() == 0


# -- restarts ---------------------------------------------------------------------------
def test_no_second_page_after_a_restart(clock: ManualClock) -> None:
    slack = Scripted("slack")
    log = pipeline(clock, slack).on_alert(make_alert())
    clock.advance(60)
    restarted = pipeline(clock, slack, state=restore_from_messages(as_messages(log)))
    [record] = restarted.on_alert(make_alert())  # the alerts topic is read again
    assert record.status is Status.DEDUPLICATED and len(slack.sent) == 1
    # and the repeat interval holds across the restart for a new episode
    clock.advance(3600)
    second = make_alert(started_at=T0 + timedelta(hours=1))
    assert restarted.on_alert(second)[0].status is Status.DEDUPLICATED


def test_unfinished_retries_continue_after_a_restart(clock: ManualClock) -> None:
    slack, mail = Scripted("slack", [DOWN]), Scripted("mail")
    p = pipeline(clock, slack, mail, default_receivers=("slack", "mail"))
    log = p.on_alert(make_alert())
    assert statuses(log) == [("slack", Status.RETRYING), ("mail", Status.SENT)]

    slack_again = Scripted("slack")
    mail_again = Scripted("mail")
    restarted = pipeline(
        clock,
        slack_again,
        mail_again,
        default_receivers=("slack", "mail"),
        state=restore_from_messages(as_messages(log)),
    )
    assert restarted.on_tick() == []
    clock.advance(10)
    [record] = restarted.on_tick()
    assert (record.receiver, record.status, record.attempt) == ("slack", Status.SENT, 2)
    assert len(slack_again.sent) == 1 and mail_again.sent == []


def test_restore_needs_only_the_latest_record_per_fingerprint(clock: ManualClock) -> None:
    # alerts.notifications is compacted: Kafka may keep only the last record of a key.
    slack, mail = Scripted("slack", [DOWN]), Scripted("mail")
    p = pipeline(clock, slack, mail, default_receivers=("slack", "mail"))
    log = p.on_alert(make_alert())
    compacted = {r.fingerprint: r for r in log}.values()
    assert len(compacted) == 1 and next(iter(compacted)).receiver == "mail"
    state = AlertingState.restore(compacted)
    assert state.receiver(log[0].fingerprint, "mail").firing is Status.SENT
    assert state.receiver(log[0].fingerprint, "slack").firing is Status.RETRYING
    assert [d.receiver for d in state.due(T0 + timedelta(seconds=10))] == ["slack"]


def test_restore_skips_records_it_cannot_read(caplog: pytest.LogCaptureFixture) -> None:
    good = pipeline(ManualClock(T0), Scripted("slack")).on_alert(make_alert())
    bad = Message(topics.NOTIFICATIONS, 0, 9, b"k", b'{"v": 99, "kind": "notification"}')
    state = restore_from_messages([*as_messages(good), bad])
    assert state.receiver(good[0].fingerprint, "slack").firing is Status.SENT
    assert "unsupported schema version 99" in caplog.text


def test_a_newer_episode_supersedes_the_retries_of_the_older(clock: ManualClock) -> None:
    slack = Scripted("slack", [DOWN])
    p = pipeline(clock, slack)
    first = make_alert(started_at=T0)
    p.on_alert(first)
    p.on_alert(resolved_of(first, timedelta(seconds=2)))  # waits behind the firing
    second = make_alert(started_at=T0 + timedelta(seconds=3))
    clock.advance(3)
    # nothing was paged yet; slack is held (down) until its retry is due
    assert p.on_alert(second)[0].status is Status.RETRYING
    clock.advance(60)
    records = p.on_tick()
    assert sorted((r.episode == second.episode, r.status.value) for r in records) == [
        (False, "deduplicated"),
        (False, "deduplicated"),
        (True, "sent"),
    ]
    assert [n.alert for n in slack.sent] == [second] and p.state.pending_count() == 0
