"""Stored texts reach the workers through a list in Redis, drained in batches."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from redis import Redis
from rq.job import Job
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from helpline import vault
from helpline.db import is_postgresql
from helpline.models import Conversation, Message
from tests.support import HELPLINE_NUMBER, Helpline, statements_run
from workers import jobs, queues, runtime


def inbound_jobs(helpline: Helpline) -> list[str]:
    redis = Redis.from_url(helpline.settings.redis_url)
    return queues.queue(queues.INBOUND, redis).get_job_ids()


def test_a_flood_asks_for_a_drain_per_shard_not_a_job_per_text(helpline: Helpline) -> None:
    helpline.supporter(max_conversations=30)
    numbers = [f"+155502090{n:02d}" for n in range(30)]
    for number in numbers:
        assert helpline.text_in("hi", from_=number).status_code == 200
    jobs = inbound_jobs(helpline)
    assert 1 <= len(jobs) <= queues.INBOUND_SHARDS
    assert all(job.startswith("drain-") for job in jobs)
    helpline.run_jobs()
    convos = list(helpline.db.scalars(select(Conversation)))
    assert len(convos) == 30 and {c.status for c in convos} == {"active"}
    assert all(len(helpline.twilio.to(n)) == 1 for n in numbers)
    redis = Redis.from_url(helpline.settings.redis_url)
    for shard in range(queues.INBOUND_SHARDS):  # nothing left behind, no lease held
        assert redis.llen(queues.inbound_list(shard)) == 0
        assert not redis.exists(queues.drain_lease(shard))


def test_one_texters_texts_are_processed_in_the_order_they_came(helpline: Helpline) -> None:
    """Even taken from the list out of order, one at a time: each text brings the texter's
    earlier ones with it."""
    helpline.supporter()
    number = "+15550209101"
    for body in ("first", "second", "third"):
        helpline.text_in(body, from_=number)
    redis = Redis.from_url(helpline.settings.redis_url)
    key = queues.inbound_list(queues.shard_of(vault.index(number)))
    ids = [int(i) for i in redis.lrange(key, 0, -1)]
    redis.delete(key)
    redis.rpush(key, *reversed(ids))
    helpline.run_jobs()
    (convo,) = helpline.db.scalars(select(Conversation))
    inbound = [m.body for m in convo.messages if m.direction == "in"]
    assert inbound == ["first", "second", "third"]


class ArrivesAsTheLeaseIsGivenUp(Redis):
    """A text pushed between a drain's last, empty pop and its giving up the lease."""

    pushed: int | None = None

    def delete(self, *names: Any) -> Any:
        if self.pushed is not None:
            self.rpush(queues.inbound_list(0), self.pushed)
            self.pushed = None
        return super().delete(*names)


def test_a_text_pushed_while_the_lease_is_given_up_is_still_taken(helpline: Helpline) -> None:
    redis = ArrivesAsTheLeaseIsGivenUp.from_url(helpline.settings.redis_url)
    redis.set(queues.drain_lease(0), "1")
    redis.pushed = 41
    assert queues.take_inbound(redis, 0) == [41]  # its push found the lease held: taken here
    assert queues.take_inbound(redis, 0) == []
    assert not redis.exists(queues.drain_lease(0))


def test_texts_handed_on_together_keep_their_order_and_ask_for_one_drain(
    helpline: Helpline,
) -> None:
    """A batch of stored texts is pushed in its order, beside the caller's own commands, and
    asks for one drain; while a drain holds the lease, pushing asks for none."""
    redis = Redis.from_url(helpline.settings.redis_url)
    metrics = redis.pipeline(transaction=False)
    metrics.incr("caller's own command")
    texts = [(7, "a" * 64), (3, "b" * 64), (9, "c" * 64)]
    assert queues.inbound_stored(redis, texts, metrics)
    assert [int(i) for i in redis.lrange(queues.inbound_list(0), 0, -1)] == [7, 3, 9]
    assert redis.get("caller's own command") == b"1"
    assert len(inbound_jobs(helpline)) == 1
    assert queues.inbound_stored(redis, [(11, "d" * 64)])
    alone = redis.pipeline(transaction=False)
    alone.incr("caller's own command")
    alone.incr("caller's own command")
    assert queues.inbound_stored(redis, [], alone)  # nothing to hand on: the caller's go
    assert redis.get("caller's own command") == b"3"
    assert len(inbound_jobs(helpline)) == 1  # the lease is held: the running drain takes them


def test_a_text_that_cannot_be_processed_holds_up_no_other(helpline: Helpline) -> None:
    """A batch that fails goes on text by text: the others are served, the bad one is left to
    its own job's retries."""
    helpline.supporter(max_conversations=10)
    good = "+15550209201"
    key = vault.index(good)
    helpline.text_in("hi", from_=good)
    bad_id = helpline.db.execute(
        text(
            "INSERT INTO messages (direction, body, from_address, to_address, texter_key, "
            "num_media, delivery_status, created_at) VALUES ('in', 'x', 'not sealed', "
            ":to, :key, 0, 'received', :at) RETURNING id"
        ),
        {
            "to": HELPLINE_NUMBER,
            "key": key[:-1] + ("1" if key[-1] == "0" else "0"),
            "at": "2026-01-01",
        },
    ).scalar_one()
    helpline.db.commit()
    redis = Redis.from_url(helpline.settings.redis_url)
    redis.rpush(queues.inbound_list(queues.shard_of(key)), bad_id)
    helpline.text_in("hello", from_="+15550209202")
    helpline.run_jobs()
    assert len(helpline.twilio.to(good)) == 1
    assert len(helpline.twilio.to("+15550209202")) == 1
    processed = select(Message.processed_at).where(Message.id == bad_id)
    assert helpline.db.scalar(processed) is None
    failed = queues.queue(queues.INBOUND, redis).failed_job_registry.get_job_ids()
    scheduled = queues.queue(queues.INBOUND, redis).scheduled_job_registry.get_job_ids()
    assert f"inbound-{bad_id}-alone" in failed + scheduled


def test_the_tick_restarts_a_shard_whose_drain_died(helpline: Helpline) -> None:
    """A drain killed with its lease held: once the lease lapses, the tick starts another."""
    helpline.supporter()
    number = "+15550209301"
    helpline.text_in("hi", from_=number)
    redis = Redis.from_url(helpline.settings.redis_url)
    shard = queues.shard_of(vault.index(number))
    queues.queue(queues.INBOUND, redis).empty()  # the drain job is gone, its lease still held
    assert queues.restart_drains(redis) == []
    redis.delete(queues.drain_lease(shard))  # ... until it lapses
    assert queues.restart_drains(redis) == [shard]
    helpline.run_jobs()
    assert len(helpline.twilio.to(number)) == 1


def test_a_drain_past_its_time_with_nothing_left_asks_for_no_other(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queues, "DRAIN_BUDGET_S", 0)
    helpline.supporter()
    helpline.text_in("hi", from_="+15550209501")
    assert len(inbound_jobs(helpline)) == 1
    helpline.run_jobs()
    redis = Redis.from_url(helpline.settings.redis_url)
    finished = queues.queue(queues.INBOUND, redis).finished_job_registry.get_job_ids()
    assert len([j for j in finished if j.startswith("drain-")]) == 1
    assert len(helpline.twilio.to("+15550209501")) == 1
    assert not redis.exists(queues.drain_lease(queues.shard_of(vault.index("+15550209501"))))


def test_a_long_drain_hands_over_to_a_fresh_job(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queues, "DRAIN_BATCH", 2)
    monkeypatch.setattr(queues, "DRAIN_BUDGET_S", 0)
    helpline.supporter(max_conversations=10)
    numbers = [f"+155502094{n:02d}" for n in range(6)]
    redis = Redis.from_url(helpline.settings.redis_url)
    for number in numbers:
        helpline.text_in("hi", from_=number)
    drains_asked = len(inbound_jobs(helpline))
    helpline.run_jobs()
    assert all(len(helpline.twilio.to(n)) == 1 for n in numbers)
    finished = queues.queue(queues.INBOUND, redis).finished_job_registry.get_job_ids()
    assert len([j for j in finished if j.startswith("drain-")]) > drains_asked


def test_texters_in_one_batch_are_served_in_the_order_they_wrote(helpline: Helpline) -> None:
    """Whatever the order of their blind indexes (the order their rows are locked in)."""
    sam = helpline.supporter(max_conversations=1)
    first, second = sorted(["+15550209701", "+15550209702"], key=vault.index, reverse=True)
    helpline.text_in("hi", from_=first)
    helpline.text_in("hi", from_=second)
    helpline.run_jobs()  # one drain, one batch
    held = helpline.db.scalars(select(Conversation).where(Conversation.supporter_id == sam.id))
    assert [c.texter.address for c in held] == [first]


def test_a_drain_with_texts_waiting_leaves_its_sends_to_another_worker(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drains run one at a time: while texts wait, a batch's texts go on the outbound queue
    for another worker; the last batch, with nothing behind it, sends its own."""
    monkeypatch.setattr(queues, "DRAIN_BATCH", 2)
    helpline.supporter(max_conversations=10)
    numbers = [f"+155502096{n:02d}" for n in range(6)]
    for number in numbers:
        helpline.text_in("hi", from_=number)
    helpline.run_jobs()
    assert all(len(helpline.twilio.to(n)) == 1 for n in numbers)
    redis = Redis.from_url(helpline.settings.redis_url)
    finished = queues.queue(queues.OUTBOUND, redis).finished_job_registry.get_job_ids()
    spilled = [Job.fetch(j, connection=redis) for j in finished if j.startswith("sends-")]
    # The first two batches found four, then two, texts behind them; the third found none.
    assert sorted(len(job.args[0]) for job in spilled) == [2, 2]


def test_a_drain_sends_its_last_batch_once_it_has_let_the_list_go(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text arriving while the last batch's texts go out asks for a drain of its own, which
    another worker takes: it does not wait for those sends."""
    helpline.supporter()
    number = "+15550209801"
    helpline.text_in("hi", from_=number)
    redis = Redis.from_url(helpline.settings.redis_url)
    lease = queues.drain_lease(queues.shard_of(vault.index(number)))
    held_while_sending = []
    send_made = jobs.send_made

    def watched(texts: Any) -> None:
        held_while_sending.append(bool(redis.exists(lease)))
        send_made(texts)

    monkeypatch.setattr(jobs, "send_made", watched)
    helpline.run_jobs()
    assert held_while_sending == [False]
    assert len(helpline.twilio.to(number)) == 1


def test_with_the_database_down_a_batch_goes_back_in_order(helpline: Helpline) -> None:
    number = "+15550209501"
    for body in ("one", "two"):
        helpline.text_in(body, from_=number)
    redis = Redis.from_url(helpline.settings.redis_url)
    key = queues.inbound_list(queues.shard_of(vault.index(number)))
    waiting = redis.lrange(key, 0, -1)
    runtime.configure(
        replace(helpline.settings, database_url="postgresql+psycopg://nobody@127.0.0.1:9/none")
    )
    try:
        with pytest.raises(OperationalError):
            jobs.drain_inbound(queues.shard_of(vault.index(number)))
    finally:
        runtime.configure(helpline.settings)
    assert redis.lrange(key, 0, -1) == waiting


def statements_to_process(helpline: Helpline, count: int, first_number: int) -> list[str]:
    """SQL statements one batch of `count` new texters' first texts costs, routing included."""
    from helpline.models import utcnow
    from helpline.services import conversations

    for n in range(count):
        helpline.text_in("hi", from_=f"+1555021{first_number + n:04d}")
    waiting = select(Message.id).where(Message.direction == "in", Message.processed_at.is_(None))
    ids = list(helpline.db.scalars(waiting))
    helpline.look_again()
    with statements_run() as statements, runtime.transaction() as session:
        texts = conversations.handle_inbound_batch(session, ids, utcnow())
    assert len(texts) == count  # each told who they are connected with
    return statements


def test_a_batch_reads_and_writes_its_texters_together_not_one_by_one(
    helpline: Helpline,
) -> None:
    """Ten more new texters in a batch cost no more statements on PostgreSQL, where the
    batch's conversations, their events, their greetings and the texts' updates are each
    written in one; and at most four each on SQLite, whose driver inserts a row at a time
    (their conversation, its two events, the greeting). A text cost twenty when each texter
    was read and written alone."""
    helpline.supporter(max_conversations=40)
    ten = len(statements_to_process(helpline, 10, 0))
    twenty = len(statements_to_process(helpline, 20, 100))
    per_texter = 0 if is_postgresql(helpline.db) else 4
    assert (twenty - ten) / 10 <= per_texter, (ten, twenty)


def test_a_batch_of_new_texters_reads_what_it_knows_already_no_more(helpline: Helpline) -> None:
    """New texters have no conversation to look up, and the routing pass that follows finds
    their rows in the batch's session: one read of the texters, none of their conversations
    by texter."""
    helpline.supporter(max_conversations=10)
    statements = [" ".join(s.split()) for s in statements_to_process(helpline, 3, 200)]
    assert len([s for s in statements if s.startswith("SELECT texters.id")]) == 1, statements
    assert not [s for s in statements if "conversations.texter_id IN" in s], statements
