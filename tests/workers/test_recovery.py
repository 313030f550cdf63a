"""Nothing stranded: texts stored while Redis was away are picked up by the periodic tick."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from redis import Redis
from sqlalchemy import select, update

from helpline.app import create_app
from helpline.models import Message, utcnow
from tests.support import Helpline
from workers import jobs, queues
from workers.__main__ import PERIODIC, keep_ticking


def age_all_messages(helpline: Helpline, seconds: int) -> None:
    helpline.look_again()  # leave any read snapshot before writing (SQLite)
    helpline.db.execute(update(Message).values(created_at=utcnow() - timedelta(seconds=seconds)))
    helpline.db.commit()


def test_webhook_answers_200_and_keeps_the_text_when_redis_is_down(helpline: Helpline) -> None:
    dead_redis = replace(helpline.settings, redis_url="redis://127.0.0.1:9/0")
    helpline.client = create_app(dead_redis, TESTING=True).test_client()
    answer = helpline.text_in("is anyone there", from_="+15550206001")
    assert answer.status_code == 200
    assert helpline.db.scalars(select(Message)).one().processed_at is None


def test_tick_requeues_a_stranded_text_and_it_is_answered(helpline: Helpline) -> None:
    helpline.supporter()
    helpline.text_in("hello", from_="+15550206002")
    Redis.from_url(helpline.settings.redis_url).flushdb()  # the job is lost with Redis
    age_all_messages(helpline, 60)
    jobs.tick()
    helpline.run_jobs()
    assert len(helpline.twilio.to("+15550206002")) == 1
    assert helpline.db.scalars(select(Message).where(Message.direction == "in")).one().processed_at


def test_tick_sends_a_reply_whose_send_job_was_lost(helpline: Helpline) -> None:
    sam = helpline.supporter()
    helpline.text_in("hello", from_="+15550206003")
    helpline.run_jobs()
    convo_id = helpline.db.scalars(select(Message.conversation_id)).first()
    answer = helpline.api(
        "POST", f"/conversations/{convo_id}/messages", user=sam, json={"body": "still here"}
    )
    assert answer.status_code == 202
    Redis.from_url(helpline.settings.redis_url).flushdb()  # the send job is lost with Redis
    age_all_messages(helpline, 60)
    jobs.tick()
    helpline.run_jobs()
    assert [t["Body"] for t in helpline.twilio.to("+15550206003")][1:] == ["still here"]


def test_fresh_texts_are_left_to_their_own_jobs(helpline: Helpline) -> None:
    helpline.text_in("hello", from_="+15550206004")
    Redis.from_url(helpline.settings.redis_url).flushdb()
    jobs.tick()
    redis = Redis.from_url(helpline.settings.redis_url)
    assert queues.queue(queues.INBOUND, redis).count == 0


def test_only_one_worker_enqueues_each_tick(helpline: Helpline) -> None:
    redis = Redis.from_url(helpline.settings.redis_url)
    stop = threading.Event()
    tickers = [threading.Thread(target=keep_ticking, args=(redis, stop, 12)) for _ in range(4)]
    for ticker in tickers:
        ticker.start()
    stop.wait(0.5)
    stop.set()
    for ticker in tickers:
        ticker.join()
    assert queues.queue(queues.ROUTING, redis).count == len(PERIODIC)  # each job once


def test_texts_whose_webhook_never_arrived_are_ingested_once(helpline: Helpline) -> None:
    """Twilio holds texts the service never got: reconciliation stores and answers each once."""
    helpline.supporter()
    helpline.text_in("delivered normally", from_="+15550206005")
    dropped = [
        helpline.twilio.hold_inbound(f"+1555020610{i}", "+15550100000", f"lost {i}")
        for i in range(3)
    ]
    jobs.reconcile_inbound()
    jobs.reconcile_inbound()  # running it again ingests nothing twice
    helpline.run_jobs()
    stored = helpline.db.scalars(select(Message.sid).where(Message.direction == "in")).all()
    assert sorted(s for s in stored if s in dropped) == sorted(dropped)
    assert len(stored) == 4
    for i in range(3):
        assert len(helpline.twilio.to(f"+1555020610{i}")) == 1


def test_reconciling_now_does_not_wait_for_rq_scheduler(helpline: Helpline) -> None:
    """The sweep's reconciliation of a send left claimed goes straight onto the queue: a
    delayed job would wait for RQ's scheduler, which is gone for a while after a crash."""
    redis = Redis.from_url(helpline.settings.redis_url)
    assert queues.reconcile_send(redis, 42)
    assert queues.queue(queues.OUTBOUND, redis).count == 1
    assert queues.queue(queues.OUTBOUND, redis).scheduled_job_registry.count == 0
    assert queues.reconcile_send(redis, 43, delay_s=30)
    assert queues.queue(queues.OUTBOUND, redis).scheduled_job_registry.count == 1


def test_a_dropped_text_behind_a_busy_hour_of_messages_is_ingested(helpline: Helpline) -> None:
    """Twilio lists newest first, a page at a time: a text dropped 30 minutes ago is found
    behind the 1,200 messages sent since (more than one page of 1,000)."""
    helpline.supporter()
    dropped = helpline.twilio.hold_inbound(
        "+15550206201", "+15550100000", "are you there", at=utcnow() - timedelta(minutes=30)
    )
    helpline.twilio.add_history(
        1200, "+15550100000", "+15550206202", at=utcnow() - timedelta(minutes=5)
    )
    jobs.reconcile_inbound()
    helpline.run_jobs()
    stored = helpline.db.scalars(select(Message.sid).where(Message.direction == "in")).all()
    assert stored == [dropped]
    assert len(helpline.twilio.to("+15550206201")) == 1


def test_a_text_dropped_while_the_workers_were_down_for_hours_is_ingested(
    helpline: Helpline,
) -> None:
    """Reconciliation looks back to where its last complete pass began: five hours without a
    worker leave no dropped text behind, though each pass normally looks back one hour."""
    helpline.supporter()
    redis = Redis.from_url(helpline.settings.redis_url)
    jobs.reconcile_inbound()  # a pass before the outage sets the mark...
    redis.set(jobs.RECONCILED_MARK, str((utcnow() - timedelta(hours=5)).timestamp()))  # ...5 h ago
    dropped = helpline.twilio.hold_inbound(
        "+15550206301", "+15550100000", "anyone?", at=utcnow() - timedelta(hours=3)
    )
    jobs.reconcile_inbound()
    helpline.run_jobs()
    stored = helpline.db.scalars(select(Message.sid).where(Message.direction == "in")).all()
    assert stored == [dropped]


def test_without_a_mark_a_pass_looks_back_one_hour_and_never_more_than_a_week() -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert jobs.reconcile_since(now, None) == now - timedelta(hours=1)
    assert jobs.reconcile_since(now, now - timedelta(minutes=1)) == now - timedelta(hours=1)
    assert jobs.reconcile_since(now, now - timedelta(hours=30)) == now - timedelta(hours=30)
    assert jobs.reconcile_since(now, now - timedelta(days=40)) == now - timedelta(days=7)
