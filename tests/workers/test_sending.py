"""Outbound texts: retried on passing failures, never retried on refusals, never sent twice."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpline.models import Message
from tests.fakes.twilio_api import Failure
from tests.support import Helpline, statements_run
from workers import queues


def outbound(helpline: Helpline) -> list[Message]:
    return list(helpline.db.scalars(select(Message).where(Message.direction == "out")))


def test_429_and_500_are_retried_until_the_text_goes_out_once(helpline: Helpline) -> None:
    helpline.supporter()
    helpline.twilio.fail_next(Failure(429, 20429), Failure(500), Failure(503))
    helpline.text_in("hi", from_="+15550203001")
    helpline.run_jobs(retries=True)
    assert len(helpline.twilio.to("+15550203001")) == 1
    assert helpline.twilio.requests == 4
    (text,) = outbound(helpline)
    assert text.delivery_status == "queued" and text.sid is not None


def test_network_errors_are_retried(helpline: Helpline) -> None:
    """A connection Twilio never answers is a passing failure: the text goes out later."""
    from dataclasses import replace

    from workers import runtime

    runtime.configure(replace(helpline.settings, twilio_api_base_url="http://127.0.0.1:9"))
    helpline.supporter()
    helpline.text_in("hi", from_="+15550203002")
    helpline.run_jobs()
    (text,) = outbound(helpline)
    assert text.delivery_status == "pending" and text.send_claimed_at is None
    runtime.configure(helpline.settings)
    helpline.run_jobs(retries=True)
    assert len(helpline.twilio.to("+15550203002")) == 1


def test_permanent_refusal_is_recorded_and_not_retried(helpline: Helpline) -> None:
    helpline.supporter()
    helpline.twilio.refused_numbers["+15550203003"] = 21610
    helpline.text_in("hi", from_="+15550203003")
    helpline.run_jobs(retries=True)
    (text,) = outbound(helpline)
    assert text.delivery_status == "failed" and text.error_code == 21610
    assert helpline.twilio.requests == 1


def test_refusal_is_shown_to_the_supporter_in_the_conversation(helpline: Helpline) -> None:
    sam = helpline.supporter()
    helpline.twilio.refused_numbers["+15550203004"] = 21211
    helpline.text_in("hi", from_="+15550203004")
    helpline.run_jobs()
    (text,) = outbound(helpline)
    answer = helpline.api("GET", f"/conversations/{text.conversation_id}", user=sam)
    out = [m for m in answer.get_json()["messages"] if m["direction"] == "out"]
    assert out[0]["delivery_status"] == "failed" and out[0]["error_code"] == 21211


def test_without_credentials_texts_are_recorded_not_sent(helpline: Helpline) -> None:
    from dataclasses import replace

    from workers import runtime

    runtime.configure(replace(helpline.settings, twilio_account_sid=None, twilio_auth_token=None))
    helpline.supporter()
    helpline.text_in("hi", from_="+15550203005")
    helpline.run_jobs()
    (text,) = outbound(helpline)
    assert text.delivery_status == "recorded"
    assert helpline.twilio.requests == 0


def slow_twilio(helpline: Helpline) -> None:
    from dataclasses import replace

    from workers import runtime

    runtime.configure(replace(helpline.settings, twilio_timeout_s=0.3))


def test_created_but_unanswered_send_is_reconciled_not_resent(helpline: Helpline) -> None:
    """Twilio took the text but its answer never came: Twilio's list finds it; no resend."""
    slow_twilio(helpline)
    helpline.supporter()
    helpline.twilio.fail_next(Failure(201, delay_s=1.0))
    helpline.text_in("hi", from_="+15550203006")
    helpline.run_jobs(retries=True)
    assert len(helpline.twilio.to("+15550203006")) == 1
    (text,) = outbound(helpline)
    assert text.sid == helpline.twilio.to("+15550203006")[0]["sid"]


def test_unanswered_send_that_never_arrived_is_sent_once(helpline: Helpline) -> None:
    """No answer and nothing in Twilio's list: the text is sent again, exactly once."""
    slow_twilio(helpline)
    helpline.supporter()
    helpline.twilio.fail_next(Failure(500, delay_s=1.0))
    helpline.text_in("hi", from_="+15550203007")
    helpline.run_jobs(retries=True)
    assert len(helpline.twilio.to("+15550203007")) == 1
    (text,) = outbound(helpline)
    assert text.sid is not None and text.delivery_status == "queued"


def test_a_send_left_claimed_by_a_dead_worker_is_reconciled_by_the_sweep(
    helpline: Helpline,
) -> None:
    from datetime import timedelta

    from redis import Redis
    from sqlalchemy import update

    from helpline.models import utcnow
    from workers import jobs

    helpline.supporter()
    helpline.text_in("hi", from_="+15550203008")
    inbound_id = helpline.db.scalars(select(Message.id)).one()
    helpline.twilio.fail_next(Failure(503))  # the greeting is left for a job of its own
    jobs.process_inbound(inbound_id)
    Redis.from_url(helpline.settings.redis_url).flushdb()  # the worker died with its jobs
    helpline.look_again()
    (text,) = outbound(helpline)
    long_ago = utcnow() - timedelta(minutes=6)
    helpline.db.execute(
        update(Message)
        .where(Message.id == text.id)
        .values(send_claimed_at=long_ago, created_at=long_ago)
    )  # claimed, then the worker died
    helpline.db.commit()
    jobs.tick()
    jobs.tick()  # a second tick in the same slot asks for no second reconciliation
    reconciliations = [
        job_id
        for job_id in queues.queue(
            queues.OUTBOUND, Redis.from_url(helpline.settings.redis_url)
        ).job_ids
        if job_id.startswith("reconcile-")
    ]
    assert len(reconciliations) == 1
    helpline.run_jobs(retries=True)
    assert len(helpline.twilio.to("+15550203008")) == 1
    assert outbound(helpline)[0].sid is not None


def test_an_unanswered_send_is_not_mistaken_for_an_earlier_identical_text(
    helpline: Helpline,
) -> None:
    """A supporter writes "ok" twice; Twilio never answers the second create and never made it.
    Twilio's list holds the first "ok": it is not taken for the second, which is sent once."""
    slow_twilio(helpline)
    sam = helpline.supporter()
    helpline.text_in("hi", from_="+15550203009")
    helpline.run_jobs()
    convo_id = outbound(helpline)[0].conversation_id
    for failure in (None, Failure(500, delay_s=1.0)):
        if failure:
            helpline.twilio.fail_next(failure)
        answer = helpline.api(
            "POST", f"/conversations/{convo_id}/messages", user=sam, json={"body": "ok"}
        )
        assert answer.status_code == 202
        helpline.run_jobs(retries=True)
    assert [t["Body"] for t in helpline.twilio.to("+15550203009")][1:] == ["ok", "ok"]
    texts = outbound(helpline)
    assert all(t.sid for t in texts) and len({t.sid for t in texts}) == 3


def test_a_text_a_job_makes_goes_out_from_that_job(helpline: Helpline) -> None:
    """The greeting a drain makes is handed to Twilio by the drain: no send job of its own."""
    from redis import Redis

    helpline.supporter()
    helpline.text_in("hi", from_="+15550203009")
    with statements_run() as run:
        helpline.run_jobs()
    assert len(helpline.twilio.to("+15550203009")) == 1
    (text,) = outbound(helpline)
    assert text.sid is not None
    outbound_queue = queues.queue(queues.OUTBOUND, Redis.from_url(helpline.settings.redis_url))
    assert outbound_queue.finished_job_registry.get_job_ids() == []
    # The drain has the text it made: it claims it without reading it again first.
    assert not [s for s in run if s.startswith("SELECT messages.id, messages.to_address")]


def test_after_a_failed_send_a_job_hands_its_other_texts_to_the_queue(
    helpline: Helpline,
) -> None:
    """One routing pass makes three greetings; Twilio fails the first: it is retried later
    by a job of its own, the other two go on the outbound queue, and each goes out once."""
    from redis import Redis

    from workers import jobs

    texters = ["+15550203010", "+15550203011", "+15550203012"]
    for texter in texters:
        helpline.text_in("hi", from_=texter)
    helpline.run_jobs()  # nobody on shift: all three wait
    before = {texter: len(helpline.twilio.to(texter)) for texter in texters}
    requests = helpline.twilio.requests
    helpline.supporter(max_conversations=3)
    helpline.twilio.fail_next(Failure(503))
    jobs.route_queue()
    assert helpline.twilio.requests == requests + 1  # the failed one, and no other
    outbound_queue = queues.queue(queues.OUTBOUND, Redis.from_url(helpline.settings.redis_url))
    assert len(outbound_queue.job_ids) == 2
    assert outbound_queue.scheduled_job_registry.get_job_count() == 1
    helpline.run_jobs(retries=True)
    assert {t: len(helpline.twilio.to(t)) - before[t] for t in texters} == dict.fromkeys(texters, 1)
    assert all(m.delivery_status != "pending" for m in outbound(helpline))


def test_texts_claimed_ahead_of_a_failed_send_are_let_go_and_queued(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run claims its texts a few at a time. Eight greetings from one routing pass; Twilio
    fails the sixth, claimed with the seventh and eighth: those two are unclaimed again and
    go on the queue, the sixth is retried later, and each texter gets exactly one."""
    from redis import Redis

    from workers import jobs

    texters = [f"+155502032{n:02d}" for n in range(8)]
    for texter in texters:
        helpline.text_in("hi", from_=texter)
    helpline.run_jobs()  # nobody on shift: all wait
    before = {texter: len(helpline.twilio.to(texter)) for texter in texters}
    helpline.supporter(max_conversations=8)
    monkeypatch.setattr(jobs, "INLINE_BUDGET_S", 30.0)
    helpline.twilio.fail_next(*[Failure(201)] * 5, Failure(503))
    jobs.route_queue()
    helpline.look_again()
    greetings = [m for m in outbound(helpline) if m.body.startswith("You're now")]
    assert [m.sid is not None for m in greetings] == [True] * 5 + [False] * 3
    assert [m.send_claimed_at for m in greetings[5:]] == [None] * 3
    redis = Redis.from_url(helpline.settings.redis_url)
    outbound_queue = queues.queue(queues.OUTBOUND, redis)
    queued = [job.args[0] for job in outbound_queue.get_jobs()]  # an id, or a list of them
    assert sorted(queued) == [m.id for m in greetings[6:]]  # the last two
    assert outbound_queue.scheduled_job_registry.get_job_count() == 1  # the sixth
    helpline.run_jobs(retries=True)
    assert {t: len(helpline.twilio.to(t)) - before[t] for t in texters} == dict.fromkeys(texters, 1)


def test_a_send_of_unknown_outcome_in_a_run_is_reconciled_and_the_rest_queued(
    helpline: Helpline,
) -> None:
    """Three greetings from one routing pass; Twilio takes the second but its answer never
    comes. The first is recorded, the second stays claimed until Twilio's list shows it went,
    the third goes on the queue; each texter gets exactly one."""
    from redis import Redis

    from workers import jobs

    slow_twilio(helpline)
    texters = ["+15550203013", "+15550203014", "+15550203015"]
    for texter in texters:
        helpline.text_in("hi", from_=texter)
    helpline.run_jobs()  # nobody on shift: all three wait
    before = {texter: len(helpline.twilio.to(texter)) for texter in texters}
    helpline.supporter(max_conversations=3)
    helpline.twilio.fail_next(Failure(201), Failure(201, delay_s=1.0))
    jobs.route_queue()
    helpline.look_again()
    greetings = [m for m in outbound(helpline) if m.body.startswith("You're now")]
    assert [m.sid is not None for m in greetings] == [True, False, False]
    assert greetings[1].send_claimed_at is not None and greetings[2].send_claimed_at is None
    redis = Redis.from_url(helpline.settings.redis_url)
    assert len(queues.queue(queues.OUTBOUND, redis).job_ids) == 1  # the third
    helpline.run_jobs(retries=True)
    assert {t: len(helpline.twilio.to(t)) - before[t] for t in texters} == dict.fromkeys(texters, 1)
    assert all(m.sid is not None for m in outbound(helpline))


def test_when_twilio_answers_slowly_a_job_hands_the_texts_it_made_to_the_queue(
    helpline: Helpline,
) -> None:
    """Twilio takes longer than a job's time for sending: the routing pass sends the first
    of its three greetings itself and puts the other two on the outbound queue, a job each
    (as many as it sent in its time), so that every worker can take one."""
    from redis import Redis

    from workers import jobs

    texters = ["+15550203016", "+15550203017", "+15550203018"]
    for texter in texters:
        helpline.text_in("hi", from_=texter)
    helpline.run_jobs()  # nobody on shift: all three wait
    before = len(helpline.twilio.sent)
    helpline.supporter(max_conversations=3)
    helpline.twilio.latency_s = jobs.INLINE_BUDGET_S + 0.05
    jobs.route_queue()
    assert len(helpline.twilio.sent) == before + 1
    outbound_queue = queues.queue(queues.OUTBOUND, Redis.from_url(helpline.settings.redis_url))
    assert len(outbound_queue.job_ids) == 2
    helpline.run_jobs()
    assert all(m.sid is not None for m in outbound(helpline))
    assert len(helpline.twilio.sent) == before + 3


def test_texts_left_when_twilio_answers_quickly_go_several_to_a_job(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that sent several texts in its time leaves the rest in jobs of that many: fewer
    of RQ's jobs, each still sending at its own pace."""
    from redis import Redis

    from workers import jobs

    texters = [f"+155502031{n:02d}" for n in range(7)]
    for texter in texters:
        helpline.text_in("hi", from_=texter)
    helpline.run_jobs()  # nobody on shift: all wait
    before = len(helpline.twilio.sent)
    helpline.supporter(max_conversations=7)
    monkeypatch.setattr(jobs, "INLINE_BUDGET_S", 1.0)
    helpline.twilio.latency_s = 0.3  # three or four sends in the job's time
    jobs.route_queue()
    helpline.twilio.latency_s = 0
    sent_inline = len(helpline.twilio.sent) - before
    outbound_queue = queues.queue(queues.OUTBOUND, Redis.from_url(helpline.settings.redis_url))
    waiting = outbound_queue.get_jobs()
    assert 2 <= sent_inline < 7
    helpline.look_again()
    assert not [m for m in outbound(helpline) if m.sid is None and m.send_claimed_at is not None]
    assert all(job.func_name == "workers.jobs.send_made" for job in waiting)
    assert [len(job.args[0]) for job in waiting][:-1] == [sent_inline] * (len(waiting) - 1)
    assert sum(len(job.args[0]) for job in waiting) == 7 - sent_inline
    helpline.run_jobs()
    assert len(helpline.twilio.sent) == before + 7
    assert all(m.sid is not None for m in outbound(helpline))


def replies(helpline: Helpline, number: str, bodies: list[str]) -> None:
    """A supporter's replies through the API to a new texter's conversation."""
    sam = helpline.supporter(max_conversations=5)
    helpline.text_in("hello", from_=number)
    helpline.run_jobs()
    convo_id = helpline.db.scalars(select(Message.conversation_id)).first()
    for body in bodies:
        answer = helpline.api(
            "POST", f"/conversations/{convo_id}/messages", user=sam, json={"body": body}
        )
        assert answer.status_code == 202


def test_replies_go_out_together_and_in_order_from_the_send_drain(helpline: Helpline) -> None:
    """A reply is one push on the send drain's list: replies made together ask for one job,
    which sends them in the order they were written."""
    from redis import Redis

    redis = Redis.from_url(helpline.settings.redis_url)
    replies(helpline, "+15550203020", ["one", "two", "three"])
    assert redis.llen(queues.OUTBOUND_LIST) == 3
    (job_id,) = queues.queue(queues.OUTBOUND, redis).job_ids
    assert job_id.startswith("sends-drain-")
    helpline.run_jobs()
    bodies = [t["Body"] for t in helpline.twilio.to("+15550203020")]
    assert bodies[1:] == ["one", "two", "three"]
    finished = queues.queue(queues.OUTBOUND, redis).finished_job_registry.get_job_ids()
    assert finished == [job_id]
    assert redis.llen(queues.OUTBOUND_LIST) == 0 and not redis.exists(queues.OUTBOUND_LEASE)


def test_a_long_send_drain_hands_over_to_a_fresh_job(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis import Redis

    monkeypatch.setattr(queues, "SEND_BATCH", 1)
    monkeypatch.setattr(queues, "DRAIN_BUDGET_S", 0)
    replies(helpline, "+15550203021", ["one", "two", "three"])
    helpline.run_jobs()
    bodies = [t["Body"] for t in helpline.twilio.to("+15550203021")]
    assert bodies[1:] == ["one", "two", "three"]
    redis = Redis.from_url(helpline.settings.redis_url)
    finished = queues.queue(queues.OUTBOUND, redis).finished_job_registry.get_job_ids()
    assert len([j for j in finished if j.startswith("sends-drain-")]) == 3


def test_the_tick_restarts_a_send_drain_that_died(helpline: Helpline) -> None:
    """A send drain killed with its lease held: once the lease lapses, the tick starts
    another, long before the sweep would take the reply for stranded."""
    from redis import Redis

    redis = Redis.from_url(helpline.settings.redis_url)
    replies(helpline, "+15550203022", ["still here"])
    queues.queue(queues.OUTBOUND, redis).empty()  # the drain job is gone, its lease held
    assert not queues.restart_send_drain(redis)
    redis.delete(queues.OUTBOUND_LEASE)  # ... until it lapses
    assert queues.restart_send_drain(redis)
    helpline.run_jobs()
    assert [t["Body"] for t in helpline.twilio.to("+15550203022")][1:] == ["still here"]
    assert not queues.restart_send_drain(redis)  # nothing left to send


def test_a_send_drain_that_cannot_be_asked_for_leaves_the_next_push_to_ask(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RQ's enqueue failing: the lease is given up (the texts stay on the list), so the next
    push takes it and asks again."""
    from redis import Redis

    redis = Redis.from_url(helpline.settings.redis_url)
    with monkeypatch.context() as patched:
        patched.setattr(queues, "_enqueue", lambda *args, **kwargs: False)
        assert not queues.texts_made(redis, [5, 6])
    assert not redis.exists(queues.OUTBOUND_LEASE)
    assert queues.texts_made(redis, [7])
    assert [int(i) for i in redis.lrange(queues.OUTBOUND_LIST, 0, -1)] == [5, 6, 7]
    (job_id,) = queues.queue(queues.OUTBOUND, redis).job_ids
    assert job_id.startswith("sends-drain-") and redis.exists(queues.OUTBOUND_LEASE)
