"""Part 3: how many stored inbound texts 1, 2 and 4 worker processes fully process a second
(conversation opened, routed, its text handed to Twilio), beside the rate at which the same
workers run jobs that do nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from redis import Redis
from sqlalchemy import func, select

from bench import jobs, load, profiles, seed
from bench.stack import Stack, rss_mb
from helpline.db import session_factory, transaction
from helpline.models import Message, utcnow
from helpline.services import intake
from tests.fakes.twilio_api import FakeTwilio
from tests.support import HELPLINE_NUMBER, message_sid
from workers import queues


@dataclass(frozen=True)
class Sizes:
    counts: tuple[int, ...]
    texts: int
    noops: int
    timeout_s: float


QUICK = Sizes(counts=(1, 2), texts=20, noops=50, timeout_s=60)
FULL = Sizes(counts=(1, 2, 4), texts=300, noops=1000, timeout_s=300)


def run(stack: Stack, twilio: FakeTwilio, quick: bool) -> dict[str, object]:
    sizes = QUICK if quick else FULL
    stack.fresh()
    twilio.reset()
    with transaction(stack.settings.database_url) as session:
        seed.supporters(session, 50, sizes.texts, utcnow())
    found: dict[str, object] = {"backend": stack.backend, "texts": sizes.texts}
    for count in sizes.counts:
        pool = stack.workers()
        pool.start(count)
        try:
            pool.wait_ready(stack.settings.redis_url)
            noops_per_second(stack, replace(sizes, noops=sizes.noops // 10))  # warm, untimed
            # The floor before and after the texts, both timed alike (no profiler attached):
            # this machine's speed moves between runs seconds apart, and the ratio is to
            # their mean.
            before = noops_per_second(stack, sizes)
            texts = texts_per_second(stack, sizes)
            after = noops_per_second(stack, sizes)
            if count == 1:  # the profile, of texts of its own, untimed
                out = stack.run_dir / "profile-worker.txt"
                spy = profiles.start(pool.processes[0].pid, None, out)
                texts_per_second(stack, sizes)
                found["profile"] = profiles.finish(spy, out, stop=True)
            memory = rss_mb(pool.processes[0].pid)
        finally:
            pool.stop()
        noops = round((before + after) / 2, 1)
        found[str(count)] = {
            "texts_per_s": texts,
            "texts_per_s_per_worker": round(texts / count, 1),
            "noops_per_s": noops,
            "noops_before_after": [before, after],
            "ratio": round(texts / noops, 3) if noops else None,
            "worker_rss_mb": memory,
        }
    return found


def texts_per_second(stack: Stack, sizes: Sizes) -> float:
    """Store `sizes.texts` texts from new texters, then hand them all to the workers: texts per
    second from the first hand-over until every one is processed and its reply handed to Twilio."""
    with transaction(stack.settings.database_url) as session:
        seed.close_all(session, utcnow())
    texts = [_inbound() for _ in range(sizes.texts)]
    with transaction(stack.settings.database_url) as session:
        ids = [intake.store(session, inbound, utcnow()) for inbound in texts]
    redis = Redis.from_url(stack.settings.redis_url)
    began = time.monotonic()
    for message_id, inbound in zip(ids, texts, strict=True):  # as the webhook hands them on
        queues.inbound_stored(redis, [(message_id, inbound.texter_key)])
    _wait(lambda: _left(stack, ids) == 0, sizes.timeout_s)
    return round(len(ids) / (time.monotonic() - began), 1)


def noops_per_second(stack: Stack, sizes: Sizes) -> float:
    redis = Redis.from_url(stack.settings.redis_url)
    redis.set(jobs.DONE_KEY, 0)
    rq_queue = queues.queue(queues.INBOUND, redis)
    began = time.monotonic()
    for _ in range(sizes.noops):
        rq_queue.enqueue("bench.jobs.counted_noop", result_ttl=60)
    _wait(lambda: int(redis.get(jobs.DONE_KEY) or 0) >= sizes.noops, sizes.timeout_s)
    return round(sizes.noops / (time.monotonic() - began), 1)


def _inbound() -> intake.Inbound:
    return intake.Inbound(
        sid=message_sid(),
        from_address=load.texter(),
        to_address=HELPLINE_NUMBER,
        body="hello",
        num_media=0,
    )


def _left(stack: Stack, ids: list[int]) -> int:
    """Of these inbound texts, how many are unprocessed; plus texts to texters still pending."""
    session = session_factory(stack.settings.database_url, writes=False)()
    try:
        unprocessed = session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.id.in_(ids), Message.processed_at.is_(None))
        )
        pending = session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.direction == "out", Message.delivery_status == "pending")
        )
        return int(unprocessed or 0) + int(pending or 0)
    finally:
        session.close()


def _wait(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.05)
    raise TimeoutError(f"workers did not finish within {timeout} s")
