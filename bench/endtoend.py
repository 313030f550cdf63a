"""Part 2: texts arriving at fixed rates, end to end through web, Redis and workers: received
-> assigned, and a supporter's reply -> Twilio's API call; beside it a no-op job's round trip
on the same Redis and the same workers."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import requests
from psutil import Process
from redis import Redis
from sqlalchemy import func, select, tuple_

from bench import load, seed
from bench.stack import (
    Stack,
    gunicorn_workers,
    machine_busy_s,
    process_cpu_s,
    rss_mb,
    servers_cpu_s,
)
from helpline.db import session_factory, transaction
from helpline.models import Conversation, Message, utcnow
from tests.fakes.twilio_api import FakeTwilio
from workers import queues

CONNECTIONS = 64
WORKERS = 2


@dataclass(frozen=True)
class Sizes:
    rates: tuple[int, ...]
    seconds: float
    supporters: int
    drain_s: float
    noops: int


QUICK = Sizes(rates=(20, 50), seconds=2, supporters=20, drain_s=10, noops=50)
FULL = Sizes(rates=(20, 50, 100, 200), seconds=10, supporters=200, drain_s=45, noops=300)


def run(stack: Stack, twilio: FakeTwilio, quick: bool) -> dict[str, object]:
    sizes = QUICK if quick else FULL
    stack.fresh()
    twilio.reset()
    now = utcnow()
    capacity = max(sizes.rates) * sizes.seconds * 2 // sizes.supporters + 1
    with transaction(stack.settings.database_url) as session:
        ids = seed.supporters(session, sizes.supporters, capacity, now)
        tokens = seed.tokens(session, ids)
    pool = stack.workers()
    pool.start(WORKERS)
    try:
        pool.wait_ready(stack.settings.redis_url)
        with stack.service.serving("web") as web:
            busy = Busy(gunicorn_workers(web), [p.pid for p in pool.processes])
            steps = [step(stack, twilio, rate, sizes, tokens, busy) for rate in sizes.rates]
            floor = noop_round_trip(stack, sizes.noops)
        memory = {"worker_rss_mb": rss_mb(pool.processes[0].pid)}
    finally:
        pool.stop()
    sustained = [s["rate"] for s in steps if s["assigned"]["p95_ms"] < 1000 and not s["unassigned"]]
    return {
        "backend": stack.backend,
        "workers": WORKERS,
        "supporters": sizes.supporters,
        "steps": steps,
        "noop": floor,
        "highest_rate_p95_under_1s": max(sustained, default=None),
        "memory": memory,
    }


@dataclass(frozen=True)
class Busy:
    """Where a step's CPU goes: the whole machine, the web processes, the worker processes
    (their children included: RQ's scheduler), PostgreSQL, Redis, and this process (the load
    generator, the supporters replying, the fake Twilio)."""

    NAMES = ("machine", "web", "workers", "postgresql", "redis", "bench")

    web: list[int]
    workers: list[int]

    def now(self) -> tuple[float, ...]:
        workers = self.workers + [c.pid for w in self.workers for c in Process(w).children()]
        return (
            machine_busy_s(),
            process_cpu_s(self.web),
            process_cpu_s(workers),
            servers_cpu_s("postgres"),
            servers_cpu_s("redis-server"),
            process_cpu_s([os.getpid()]),
        )


def step(
    stack: Stack,
    twilio: FakeTwilio,
    rate: int,
    sizes: Sizes,
    tokens: dict[int, str],
    busy: Busy,
) -> dict[str, object]:
    """`rate` new texters a second for `sizes.seconds`, with supporters replying meanwhile."""
    with transaction(stack.settings.database_url) as session:
        seed.close_all(session, utcnow())
    started = utcnow()
    count = int(rate * sizes.seconds * 1.3) + 50
    texts = load.write_requests(stack.run_dir / f"e2e-{rate}.txt", stack.settings, count)
    replier = Replier(stack, tokens, started, per_second=max(2.0, rate / 5))
    before = busy.now()
    replier.start()
    answers = load.open_loop(
        stack.settings.public_url + "/twilio/messages", texts, rate, sizes.seconds, CONNECTIONS
    )
    replier.stop()
    drained = drain(stack, started, sizes.drain_s)
    spent = [after - was for after, was in zip(busy.now(), before, strict=True)]
    per_text = [round(1000 * s / max(answers.requests, 1), 2) for s in spent]
    if not drained:  # what is left would only slow the next step: it is counted, then dropped
        redis = Redis.from_url(stack.settings.redis_url)
        for name in queues.ALL:
            queues.queue(name, redis).empty()
    assigned, unassigned = assignment_waits(stack, started)
    return {
        "rate": rate,
        "offered": answers.rate,
        "webhook": answers.as_dict(),
        "drained": drained,
        "assigned": load.spread(assigned),
        "unassigned": unassigned,
        "reply": load.spread(reply_waits(stack, twilio, started)),
        "replies_posted": replier.posted,
        # From the first arrival until every text was processed and sent (or drain_s ran
        # out), replies included, divided by the texts: what a text cost the machine.
        "cpu_ms_per_text": dict(zip(Busy.NAMES, per_text, strict=True)),
    }


class Replier:
    """Supporters answering their new conversations through the API, `per_second` replies."""

    def __init__(
        self, stack: Stack, tokens: dict[int, str], since: datetime, per_second: float
    ) -> None:
        self.stack, self.tokens, self.since, self.per_second = stack, tokens, since, per_second
        self.posted = 0
        # Conversations are answered in the order they were assigned: the next one is the
        # first after the last answered, one row read, however many are open by then.
        self._after: tuple[datetime, int] = (since, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        http = requests.Session()
        base = self.stack.settings.public_url + "/api/v1/conversations"
        while not self._stop.wait(random.expovariate(self.per_second)):
            waiting = self._next()
            if waiting is None:
                continue
            convo_id, supporter_id = waiting
            answer = http.post(
                f"{base}/{convo_id}/messages",
                json={"body": f"bench reply {uuid.uuid4().hex}"},
                headers={"Authorization": f"Bearer {self.tokens[supporter_id]}"},
                timeout=15,
            )
            self.posted += answer.status_code == 202

    def _next(self) -> tuple[int, int] | None:
        """The next conversation assigned since the last one answered, and its supporter."""
        session = session_factory(self.stack.settings.database_url, writes=False)()
        try:
            row = session.execute(
                select(Conversation.assigned_at, Conversation.id, Conversation.supporter_id)
                .where(
                    Conversation.status == "active",
                    Conversation.supporter_id.is_not(None),
                    tuple_(Conversation.assigned_at, Conversation.id) > tuple_(*self._after),
                )
                .order_by(Conversation.assigned_at, Conversation.id)
                .limit(1)
            ).first()
        finally:
            session.close()
        if row is None:
            return None
        assigned_at, convo_id, supporter_id = row
        self._after = (assigned_at, convo_id)
        return convo_id, supporter_id


def drain(stack: Stack, since: datetime, timeout: float) -> bool:
    """Until every text since `since` is processed and sent, or `timeout`; whether it was."""
    factory = session_factory(stack.settings.database_url, writes=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session = factory()
        try:
            left = session.scalar(
                select(func.count())
                .select_from(Message)
                .where(
                    Message.created_at >= since,
                    ((Message.direction == "in") & Message.processed_at.is_(None))
                    | ((Message.direction == "out") & (Message.delivery_status == "pending")),
                )
            )
        finally:
            session.close()
        if not left:
            return True
        time.sleep(0.25)
    return False


def assignment_waits(stack: Stack, since: datetime) -> tuple[list[float], int]:
    """Seconds from each new conversation's first text stored to its assignment; and how many
    texts since `since` never reached an assigned conversation (not processed in time, or
    processed and still waiting)."""
    session = session_factory(stack.settings.database_url, writes=False)()
    try:
        rows = session.execute(
            select(Conversation.assigned_at, func.min(Message.created_at))
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Conversation.created_at >= since, Message.direction == "in")
            .group_by(Conversation.id, Conversation.assigned_at)
        ).all()
        unassigned = session.scalar(
            select(func.count())
            .select_from(Message)
            .outerjoin(Conversation, Message.conversation_id == Conversation.id)
            .where(
                Message.direction == "in",
                Message.created_at >= since,
                Conversation.assigned_at.is_(None),
            )
        )
    finally:
        session.close()
    waits = [(a - r).total_seconds() for a, r in rows if a is not None]
    return waits, int(unassigned or 0)


def reply_waits(stack: Stack, twilio: FakeTwilio, since: datetime) -> list[float]:
    """Seconds from each supporter reply stored to fake Twilio receiving its create call."""
    session = session_factory(stack.settings.database_url, writes=False)()
    try:
        rows = session.execute(
            select(Message.body, Message.created_at).where(
                Message.direction == "out",
                Message.author_id.is_not(None),
                Message.created_at >= since,
            )
        ).all()
    finally:
        session.close()
    received = {m["Body"]: float(m["ReceivedAt"]) for m in list(twilio.sent)}
    return [received[body] - at.timestamp() for body, at in rows if body in received]


def noop_round_trip(stack: Stack, count: int) -> dict[str, object]:
    """A job that does nothing, one at a time, through the running workers: from enqueue to
    the job running, and to its result being readable."""
    redis = Redis.from_url(stack.settings.redis_url)
    rq_queue = queues.queue(queues.INBOUND, redis)
    to_run, to_result = [], []
    for _ in range(count):
        began = time.time()
        job = rq_queue.enqueue("bench.jobs.noop", result_ttl=60)
        deadline = time.monotonic() + 10
        while (result := job.latest_result()) is None and time.monotonic() < deadline:
            time.sleep(0.0005)
        if result is not None and result.return_value is not None:
            to_run.append(float(result.return_value) - began)
            to_result.append(time.time() - began)
    return {"to_running": load.spread(to_run), "round_trip": load.spread(to_result)}
