"""Sends keep to their sender's rate across workers, and failed sends back off with jitter."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from redis import Redis
from rq.job import Job
from sqlalchemy import select

from helpline import telemetry
from helpline.models import Message
from helpline.pacing import send_cost_ms
from tests.fakes.twilio_api import Failure
from tests.support import Helpline
from workers import jobs, queues

TOLL_FREE = "+18005550100"  # Twilio's default: 3 message segments a second
LATENCY_S = 0.5


def pending_ids(helpline: Helpline, direction: str) -> list[int]:
    helpline.look_again()
    query = select(Message.id).where(Message.direction == direction).order_by(Message.id)
    return list(helpline.db.scalars(query))


def test_a_burst_from_many_workers_goes_out_at_the_senders_rate(helpline: Helpline) -> None:
    """Ten texts handed to ten workers at once leave one toll-free number no faster than
    three segments a second (timestamps taken by the fake Twilio), each exactly once."""
    helpline.supporter(max_conversations=10)
    for _ in range(10):
        helpline.text_in("hello", to=TOLL_FREE)
    for message_id in pending_ids(helpline, "in"):
        jobs.process_inbound(message_id)
    outbound = pending_ids(helpline, "out")
    assert len(outbound) == 10
    redis = Redis.from_url(helpline.settings.redis_url)
    queues.queue(queues.OUTBOUND, redis).empty()  # ten workers took these jobs at once:
    with ThreadPoolExecutor(len(outbound)) as workers:
        list(workers.map(jobs.send_text, outbound))
    helpline.run_jobs_on_time()  # the texts they put back on the queue for their moment

    sent = sorted(helpline.twilio.sent, key=lambda m: float(m["ReceivedAt"]))
    assert sorted(m["To"] for m in sent) == sorted({m["To"] for m in sent})  # once each
    assert len(sent) == 10 and {m["From"] for m in sent} == {TOLL_FREE}
    times = [float(m["ReceivedAt"]) for m in sent]
    costs = [send_cost_ms(TOLL_FREE, m["Body"], {}) / 1000 for m in sent]
    # Every stretch of the burst lasted at least its texts' share of the sender's time, give or
    # take the request latency of a busy test machine (unpaced, all ten go within ~0.1 s).
    for first in range(len(times)):
        for last in range(first + 1, len(times)):
            paced = sum(costs[first:last])
            assert times[last] - times[first] >= paced - LATENCY_S, (first, last, times)
    deferred = telemetry.counter_values(
        Redis.from_url(helpline.settings.redis_url), telemetry.SENDS_DEFERRED
    )
    assert deferred.get(("toll_free",), 0) >= 1  # some waited on the queue, not in a worker


def test_texts_from_different_numbers_do_not_wait_for_each_other(helpline: Helpline) -> None:
    helpline.supporter(max_conversations=10)
    helpline.text_in("hello", to=TOLL_FREE)
    helpline.text_in("hello", to="+18885550100")
    started = time.monotonic()
    helpline.run_jobs_on_time()
    assert len(helpline.twilio.sent) == 2
    assert time.monotonic() - started < 5
    first, second = (float(m["ReceivedAt"]) for m in helpline.twilio.sent)
    assert (
        abs(second - first)
        < min(send_cost_ms(m["From"], m["Body"], {}) for m in helpline.twilio.sent) / 1000
    )


def test_each_send_job_backs_off_on_its_own_jittered_schedule(helpline: Helpline) -> None:
    redis = Redis.from_url(helpline.settings.redis_url)
    queues.send_text(redis, 101)
    queues.send_text(redis, 102)
    first = Job.fetch("send-101", connection=redis).retry_intervals
    second = Job.fetch("send-102", connection=redis).retry_intervals
    assert first is not None and second is not None and len(first) == queues.SEND_ATTEMPTS
    assert first != second


def test_a_429_waits_out_a_jittered_backoff_before_the_retry(helpline: Helpline) -> None:
    helpline.supporter()
    helpline.twilio.fail_next(Failure(429, 20429))
    helpline.text_in("hi", from_="+15550204001")
    before = datetime.now(UTC)
    helpline.run_jobs()
    assert helpline.twilio.sent == []
    redis = Redis.from_url(helpline.settings.redis_url)
    registry = queues.queue(queues.OUTBOUND, redis).scheduled_job_registry
    (job_id,) = registry.get_job_ids()
    job = Job.fetch(job_id, connection=redis)
    waited = (registry.get_scheduled_time(job) - before).total_seconds()
    # The first delay, drawn from 2.5-5 s (RQ keeps whole seconds); the rest of the back-off
    # is the retry job's own.
    assert 2.5 - 1 <= waited <= 5 + 1
    assert job.retry_intervals is not None and len(job.retry_intervals) == queues.SEND_ATTEMPTS - 1
    assert 5 <= job.retry_intervals[0] <= 10
    helpline.run_jobs(retries=True)
    assert len(helpline.twilio.to("+15550204001")) == 1


def test_texts_a_job_makes_wait_for_their_moment_on_the_queue_not_in_that_job(
    helpline: Helpline,
) -> None:
    """Three greetings from one toll-free number made by one routing pass: the first goes out
    from that job, the two its sender's pace holds back go on the outbound queue, and all
    three leave at the sender's rate."""
    from rq.registry import FinishedJobRegistry

    for _ in range(3):
        helpline.text_in("hello", to=TOLL_FREE)
    helpline.run_jobs_on_time()  # nobody on shift yet: they are told they wait
    redis = Redis.from_url(helpline.settings.redis_url)
    redis.delete(*redis.keys("helpline:pace:*"))  # the sender's pace starts afresh
    finished = FinishedJobRegistry(queues.OUTBOUND, connection=redis)
    sent_by_jobs = set(finished.get_job_ids())
    helpline.twilio.reset()
    helpline.supporter(max_conversations=3)
    began = time.monotonic()
    jobs.route_queue()
    assert time.monotonic() - began < 1  # it waited for no moment
    assert len(helpline.twilio.sent) == 1
    assert len(queues.queue(queues.OUTBOUND, redis).job_ids) == 2
    helpline.run_jobs_on_time()
    assert len(set(finished.get_job_ids()) - sent_by_jobs) == 2
    times = sorted(float(m["ReceivedAt"]) for m in helpline.twilio.sent)
    cost_s = send_cost_ms(TOLL_FREE, helpline.twilio.sent[0]["Body"], {}) / 1000
    assert len(times) == 3 and times[2] - times[0] >= 2 * cost_s - LATENCY_S
