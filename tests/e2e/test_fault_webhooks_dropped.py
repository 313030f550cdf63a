"""Webhooks Twilio never delivered, delivered twice, or delivered late: every text once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import select

from helpline.models import Message, utcnow
from tests.e2e.processes import Workers, wait_until
from tests.e2e.traffic import (
    Burst,
    count_inbound,
    failed_jobs,
    inbound_form,
    outbound_texts,
    texts_sent_twice,
)
from tests.support import HELPLINE_NUMBER, Helpline
from workers import jobs

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.faults]

TEXTERS = 100
LEASE = "helpline:lease:reconcile_inbound"


def test_reconciliation_ingests_every_dropped_webhook_once_amid_live_traffic(
    helpline: Helpline, workers: Workers
) -> None:
    """Of 100 texts, 25 never reach the webhook and sit behind 1,200 newer messages in Twilio's
    list; 10 of those are delivered late, just as reconciliation runs; 10 others are delivered
    twice at once. Every MessageSid is stored once and every texter texted exactly once."""
    for i in range(5):
        helpline.supporter(f"Supporter {i}", max_conversations=20)
    texters = [f"+1555070{i:04d}" for i in range(TEXTERS)]
    forms = [inbound_form(helpline.settings, n, f"text from texter {n[-3:]}") for n in texters]
    dropped, delivered = forms[::4], [f for i, f in enumerate(forms) if i % 4]
    two_minutes_ago = utcnow() - timedelta(minutes=2)
    for form in dropped:
        form["MessageSid"] = helpline.twilio.hold_inbound(
            form["From"], form["To"], form["Body"], at=two_minutes_ago
        )
    helpline.twilio.add_history(1200, HELPLINE_NUMBER, "+15550709999")  # a busy hour since
    redis = Redis.from_url(helpline.settings.redis_url)
    redis.set(LEASE, "1", ex=60)  # this minute's reconciliation is done: the next is ours to call
    workers.start(2)
    workers.wait_ready(helpline.settings.redis_url)

    answers = Burst(helpline.app, delivered + delivered[:10], threads=8).start().join()
    assert {a.status for a in answers} == {200}
    redis.delete(LEASE)  # the minute is up: a worker's ticker enqueues a reconciliation
    late = Burst(helpline.app, dropped[:10], per_second=20).start().join()
    assert {a.status for a in late} == {200}
    wait_until(lambda: count_inbound(helpline.db) == TEXTERS, 30, "dropped texts not ingested")
    jobs.reconcile_inbound()  # the next minute's pass: nothing left to ingest
    wait_until(lambda: count_inbound(helpline.db, processed=True) == TEXTERS, 30, "unprocessed")
    wait_until(lambda: len(helpline.twilio.sent) >= TEXTERS, 30, "texts not sent")
    time.sleep(1)  # nothing more may arrive

    stored = helpline.db.scalars(select(Message.sid).where(Message.direction == "in")).all()
    assert sorted(stored) == sorted(f["MessageSid"] for f in forms)
    assert texts_sent_twice(helpline.twilio) == {}
    assert sorted(t["To"] for t in helpline.twilio.sent) == sorted(texters)
    assert all(t.sid for t in outbound_texts(helpline.db))
    assert failed_jobs(redis) == {}
