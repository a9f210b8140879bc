"""Backoff, and retries against really unreachable Slack and SMTP, on a ManualClock."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from alerting.notification_log import NotificationRecord, Status, encode_record
from alerting.notifiers import build_notifiers
from alerting.pipeline import build_pipeline
from alerting.retry import backoff
from alerting.settings import AlertingSettings, RetryPolicy
from core.clock import ManualClock

from .helpers import PASSWORD, T0, free_port, make_alert


def test_backoff_doubles_up_to_the_cap() -> None:
    wait = backoff(
        RetryPolicy(
            initial_backoff=timedelta(seconds=10),
            max_backoff=timedelta(minutes=1),
            jitter=timedelta(0),
        )
    )
    assert [wait(n).total_seconds() for n in range(1, 7)] == [10, 20, 40, 60, 60, 60]


def test_backoff_jitter_stays_within_bounds_and_varies() -> None:
    wait = backoff(
        RetryPolicy(
            initial_backoff=timedelta(seconds=10),
            max_backoff=timedelta(minutes=5),
            jitter=timedelta(seconds=5),
        )
    )
    firsts = {wait(1).total_seconds() for _ in range(200)}
    assert all(10 <= w <= 15 for w in firsts)
    assert len(firsts) > 1
    assert all(wait(20).total_seconds() == 300 for _ in range(20))  # never past the cap


SLACK_SECRET = "/services/T9/B9/zzSlackSecret"


def test_unreachable_slack_and_smtp_retry_then_fail_while_the_outbox_gets_everything(
    clock: ManualClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = AlertingSettings.model_validate(
        {
            "receivers": {
                "slack": {
                    "type": "slack",
                    "webhook_url": f"http://127.0.0.1:{free_port()}{SLACK_SECRET}",
                },
                "mail": {
                    "type": "email",
                    "host": "127.0.0.1",
                    "port": free_port(),
                    "starttls": False,
                    "username": "u",
                    "password": PASSWORD,
                    "from_addr": "a@example.com",
                    "to": ["b@example.com"],
                },
                "outbox": {"type": "outbox", "path": str(tmp_path)},
            },
            "default_receivers": ["slack", "mail", "outbox"],
            "retry": {
                "max_attempts": 3,
                "initial_backoff": "30s",
                "max_backoff": "5m",
                "jitter": "0s",
            },
        }
    )
    with httpx.Client() as http:
        pipeline = build_pipeline(settings, build_notifiers(settings, http), clock)
        records = pipeline.on_alert(make_alert())
        by = {r.receiver: r for r in records}
        assert by["outbox"].status is Status.SENT
        for name in ("slack", "mail"):
            assert by[name].status is Status.RETRYING
            assert by[name].next_attempt_at == T0 + timedelta(seconds=30)
        assert "slack receiver 'slack': cannot reach 127.0.0.1:" in (by["slack"].error or "")
        assert "email receiver 'mail': cannot reach 127.0.0.1:" in (by["mail"].error or "")

        clock.advance(30)
        second = pipeline.on_tick()
        assert {(r.receiver, r.status, r.attempt) for r in second} == {
            ("slack", Status.RETRYING, 2),
            ("mail", Status.RETRYING, 2),
        }
        assert all(r.next_attempt_at == T0 + timedelta(seconds=30 + 60) for r in second)

        # a later alert still goes out, to the receiver that works, right away
        later = pipeline.on_alert(make_alert(brand="globex"))
        assert [r.status for r in later if r.receiver == "outbox"] == [Status.SENT]

        clock.advance(60)
        third = [r for r in pipeline.on_tick() if r.brand == "acme"]
        assert {(r.receiver, r.status, r.attempt) for r in third} == {
            ("slack", Status.FAILED, 3),
            ("mail", Status.FAILED, 3),
        }
        clock.advance(3600)
        assert [r for r in pipeline.on_tick() if r.brand == "acme"] == []

    assert len(list(tmp_path.glob("*.json"))) == 2
    failed = [r for r in caplog.records if r.levelno == logging.ERROR and "acme" in r.getMessage()]
    assert len(failed) == 2
    everything: list[NotificationRecord] = records + second + later + third
    logged = caplog.text + b"".join(encode_record(r) for r in everything).decode()
    assert "zzSlackSecret" not in logged and PASSWORD not in logged
