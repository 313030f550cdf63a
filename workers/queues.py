"""Queue names and enqueue helpers: the only part of the workers the web imports.

Jobs are enqueued by dotted name, so importing this module pulls in no job code.
"""

from __future__ import annotations

import contextlib
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import (
    DeserializationError,
    DuplicateJobError,
    InvalidJobOperation,
    NoSuchJobError,
)
from rq.job import Job
from rq.results import Result

from helpline import logs
from helpline.pacing import backoff_delays

log = logging.getLogger(__name__)

INBOUND = "inbound"  # stored texts waiting to be processed and routed
OUTBOUND = "outbound"  # texts waiting to be handed to Twilio
ROUTING = "routing"  # routing passes and periodic sweeps
# In the order a worker serves them at first, and after an inbound job: a supporter's reply
# (or a texter's greeting) is handed to Twilio before the next inbound drain is taken, never
# kept behind a flood of texts; routing passes and the periodic tick (the sweep, the handoff
# rules) are few and short, and must not wait behind a flood either. After any other job the
# inbound queue comes first (serving_order).
ALL = (OUTBOUND, ROUTING, INBOUND)


def serving_order(after: str) -> tuple[str, ...]:
    """The order a worker takes the queues in after a job from the queue `after`.

    Inbound texts are drained by one job at a time, which holds one worker for a batch or a
    tenth of a second at most (DRAIN_BUDGET_S); sends come in jobs of a few texts each. A
    worker that has just drained serves the others first, and one that has just run anything
    else takes a waiting drain first: a drain waits behind at most one job of another queue
    on each worker, not behind all of them (texts arriving at 100 a second waited up to a
    tenth of a second for their drain, behind greetings' sends), and a reply behind at most
    one drain on one worker, however long the flood.
    """
    if after == INBOUND:
        return ALL
    return (INBOUND, *(name for name in ALL if name != INBOUND))


JOB_TIMEOUT = 60
FAILURE_TTL = 7 * 24 * 3600
_INBOUND_RETRY = Retry(max=5, interval=[1, 3, 10, 30, 60])
SEND_ATTEMPTS = 8
_jitter = random.Random()


def send_retry(rng: random.Random = _jitter) -> Retry:
    """Sends back off on 429/5xx/network errors, doubling from 5 s with jitter drawn for each
    job: 10 to 20 minutes in all before the job is left failed."""
    return Retry(max=SEND_ATTEMPTS, interval=backoff_delays(SEND_ATTEMPTS, rng))


def queue(name: str, connection: Redis) -> Queue:
    return Queue(name, connection=connection, default_timeout=JOB_TIMEOUT)


def _meta() -> dict[str, str]:
    """The request (or the job) that asked for this job, so its log lines can be followed."""
    request_id = logs.current("request_id")
    return {"request_id": request_id} if request_id else {}


def _enqueue(
    connection: Redis,
    name: str,
    func: str,
    job_id: str,
    retry: Retry,
    *args: object,
    at_front: bool = False,
) -> bool:
    """Enqueue once per job id; False (logged) when Redis is unreachable: the sweep recovers."""
    try:
        queue(name, connection).enqueue(
            func,
            *args,
            job_id=job_id,
            at_front=at_front,
            unique=True,
            retry=retry,
            result_ttl=60,
            failure_ttl=FAILURE_TTL,
            meta=_meta(),
        )
    except DuplicateJobError:
        return True
    except RedisError as exc:
        log.warning("could not enqueue %s (%s); the sweep will re-queue it", job_id, exc)
        return False
    return True


# Stored inbound texts reach the workers through lists in Redis, one per shard of texters:
# the webhook pushes a text's id, and a drain job per shard takes the ids in batches, a
# transaction and one routing pass per batch (workers.jobs.drain_inbound). A push asks for a
# drain only when none holds the shard's lease, so in a flood a text costs the webhook one
# round trip to Redis, not an RQ job. One texter's texts share a shard, drained in order.
# One shard: every batch takes the routing lock before anything else, so batches run one at
# a time however many lists there are, and more lists only split the texts into smaller
# batches, each paying a batch's fixed cost (docs/decisions.md, "One drain list, not four").
# The shard stays in the names and the jobs' arguments.
INBOUND_SHARDS = 1
DRAIN_BATCH = 50
# A drain renews its lease with every batch and hands over to a fresh job (at the front of the
# inbound queue, as every drain) once a batch ends after DRAIN_BUDGET_S: the worker then
# serves the outbound and routing queues first (serving_order), and a reply waits for at
# most one batch before a worker sends it.
# A drain that died with the lease held stops blocking its shard after DRAIN_LEASE_S, and
# the tick restarts the drain of any shard left with texts and no lease.
DRAIN_LEASE_S = 30
DRAIN_BUDGET_S = 0.1


def inbound_list(shard: int) -> str:
    return f"helpline:inbound:{shard}"


def drain_lease(shard: int) -> str:
    return f"helpline:inbound:{shard}:draining"


def shard_of(texter_key: str) -> int:
    return int(texter_key[:8], 16) % INBOUND_SHARDS


def _take_lease(redis: Redis | Pipeline, lease: str) -> object:
    """Take a drain's lease if nobody holds it (a truthy answer: taken)."""
    return redis.set(lease, "1", nx=True, ex=DRAIN_LEASE_S)


def inbound_stored(
    connection: Redis, texts: Sequence[tuple[int, str]], pipe: Pipeline | None = None
) -> bool:
    """Hand stored inbound texts (their ids and texters' keys, in the order they were stored)
    to the workers; False (logged) when Redis is unreachable (the texts are stored: the sweep
    finds them). `pipe` may hold commands of the caller's to send in the same round trip (the
    webhooks' metrics); their errors are not the texts'."""
    by_shard: dict[int, list[int]] = {}
    for message_id, texter_key in texts:
        by_shard.setdefault(shard_of(texter_key), []).append(message_id)
    pipe = pipe if pipe is not None else connection.pipeline(transaction=False)
    try:
        with pipe:
            for shard, message_ids in by_shard.items():
                pipe.rpush(inbound_list(shard), *message_ids)
                _take_lease(pipe, drain_lease(shard))
            sent = pipe.execute(raise_on_error=False)
            answers = sent[len(sent) - 2 * len(by_shard) :]  # after the caller's commands
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
    except RedisError as exc:
        ids = ", ".join(str(message_id) for message_id, _ in texts)
        log.warning("could not queue texts %s (%s); the sweep will re-queue them", ids, exc)
        return False
    # A shard whose lease a drain holds needs nothing more: the drain takes these ids before
    # it lets go. Any other needs a drain.
    taken = [shard for shard, lease in zip(by_shard, answers[1::2], strict=True) if lease]
    return all([drain(connection, shard) for shard in taken])


def drain(connection: Redis, shard: int) -> bool:
    """Enqueue a drain for a shard whose lease the caller holds; on failure give the lease up,
    so the next text's push asks again (if Redis does not answer, the lease expires; the
    sweep has the texts meanwhile)."""
    job_id = f"drain-{shard}-{uuid.uuid4().hex}"
    return _ask_for_drain(
        connection, INBOUND, "workers.jobs.drain_inbound", job_id, drain_lease(shard), shard
    )


def _ask_for_drain(
    connection: Redis, name: str, func: str, job_id: str, lease: str, *args: object
) -> bool:
    """A drain goes to the front of its queue: the send drain carries the supporters' replies,
    which would otherwise wait behind every run of a drain's greetings queued before them
    (and a worker takes an inbound drain only every other job, `serving_order`)."""
    if _enqueue(connection, name, func, job_id, _INBOUND_RETRY, *args, at_front=True):
        return True
    with contextlib.suppress(RedisError):
        connection.delete(lease)
    return False


def restart_drains(connection: Redis) -> list[int]:
    """Start a drain on every shard holding texts with no drain at work (its drain died, or
    its push could not enqueue one); the shards restarted."""
    restarted = []
    for shard in range(INBOUND_SHARDS):
        waiting = connection.llen(inbound_list(shard))
        if waiting and _take_lease(connection, drain_lease(shard)) and drain(connection, shard):
            restarted.append(shard)
    return restarted


def put_back(connection: Redis, shard: int, message_ids: list[int]) -> None:
    """Return taken ids to the head of their list, in their order (the database was down)."""
    if message_ids:
        connection.lpush(inbound_list(shard), *reversed(message_ids))


def take_inbound(connection: Redis, shard: int) -> list[int]:
    """The next ids on a shard's list, the lease renewed; [] once it is empty and the lease
    is given up."""
    return _take(connection, inbound_list(shard), drain_lease(shard), DRAIN_BATCH)


def _take(connection: Redis, key: str, lease: str, count: int) -> list[int]:
    """The next `count` ids at most on a drain's list, its lease renewed; [] once the list is
    empty and the lease is given up.

    An id pushed after the last pop finds the lease still held (and is taken here, seen by
    the length check) or finds it given up (and its push takes the lease and asks for a new
    drain): either way some drain takes it.
    """
    while True:
        with connection.pipeline(transaction=False) as pipe:
            pipe.lpop(key, count)
            pipe.expire(lease, DRAIN_LEASE_S)
            popped, _ = pipe.execute()
        if popped:
            return [int(i) for i in popped]
        connection.delete(lease)
        if not connection.llen(key) or not _take_lease(connection, lease):
            return []


# Texts the web makes and commits (a supporter's reply, a transfer's notices) reach the
# workers the same way, through one list: a push asks for a send drain only when none holds
# the list's lease, and the drain sends what it finds a run at a time
# (workers.jobs.drain_outbound). A reply costs the web one round trip to Redis, and the
# workers a share of a run of sends, not an RQ job of its own (about 2 ms of a worker's CPU)
# and a run of one (its claim's transaction and its outcome's). A run still hands what it
# could not send in time to RQ jobs, which every worker shares (Twilio answering slowly).
# The inbound drain's texts do not come this way (docs/decisions.md, "Performance").
OUTBOUND_LIST = "helpline:outbound:texts"
OUTBOUND_LEASE = "helpline:outbound:texts:draining"
SEND_BATCH = 20


def texts_made(connection: Redis, message_ids: Sequence[int]) -> bool:
    """Hand committed texts, not yet sent, to the send drain, in their order; False (logged)
    when Redis is unreachable (the texts are stored: the sweep finds them)."""
    if not message_ids:
        return True
    try:
        with connection.pipeline(transaction=False) as pipe:
            pipe.rpush(OUTBOUND_LIST, *message_ids)
            _take_lease(pipe, OUTBOUND_LEASE)
            _, leased = pipe.execute()
    except RedisError as exc:
        ids = ", ".join(str(message_id) for message_id in message_ids)
        log.warning("could not queue texts %s (%s); the sweep will re-queue them", ids, exc)
        return False
    return not leased or drain_sends(connection)


def drain_sends(connection: Redis) -> bool:
    """Enqueue the send drain, whose lease the caller holds (as `drain`)."""
    job_id = f"sends-drain-{uuid.uuid4().hex}"
    return _ask_for_drain(
        connection, OUTBOUND, "workers.jobs.drain_outbound", job_id, OUTBOUND_LEASE
    )


def restart_send_drain(connection: Redis) -> bool:
    """Start the send drain if texts wait on its list with no drain at work; whether it was."""
    return bool(
        connection.llen(OUTBOUND_LIST)
        and _take_lease(connection, OUTBOUND_LEASE)
        and drain_sends(connection)
    )


def take_outbound(connection: Redis) -> list[int]:
    """The next texts to send on the outbound list (as `take_inbound`)."""
    return _take(connection, OUTBOUND_LIST, OUTBOUND_LEASE, SEND_BATCH)


def outbound_waiting(connection: Redis) -> int:
    """Texts handed to the send drain that it has not taken yet."""
    return int(connection.llen(OUTBOUND_LIST))


def inbound_waiting(connection: Redis) -> int:
    """Texts handed to the workers that no drain has taken yet, on every shard."""
    with connection.pipeline(transaction=False) as pipe:
        for shard in range(INBOUND_SHARDS):
            pipe.llen(inbound_list(shard))
        return sum(pipe.execute())


def process_inbound(connection: Redis, message_id: int, attempt: str = "") -> bool:
    """One text as a job of its own: the sweep's and the reconciliation's way in."""
    return _enqueue(
        connection,
        INBOUND,
        "workers.jobs.process_inbound",
        f"inbound-{message_id}{attempt}",
        _INBOUND_RETRY,
        message_id,
    )


def send_text(connection: Redis, message_id: int, attempt: str = "") -> bool:
    return _enqueue(
        connection,
        OUTBOUND,
        "workers.jobs.send_text",
        f"send-{message_id}{attempt}",
        send_retry(),
        message_id,
    )


def send_text_at(
    connection: Redis, message_id: int, at_ms: int, delay_s: float, retry: Retry | None = None
) -> bool:
    """Send a text at its paced moment: one job per text and moment, however many ask."""
    rq_queue = queue(OUTBOUND, connection)
    job = rq_queue.create_job(
        "workers.jobs.send_text",
        args=(message_id,),
        job_id=f"send-{message_id}-at-{at_ms}",
        retry=retry or send_retry(),
        result_ttl=60,
        failure_ttl=FAILURE_TTL,
        meta=_meta(),
    )
    try:
        rq_queue.schedule_job(job, datetime.now(UTC) + timedelta(seconds=delay_s), unique=True)
    except DuplicateJobError:
        return True
    except RedisError as exc:
        log.warning("could not schedule %s (%s); the sweep will re-queue it", job.id, exc)
        return False
    return True


def retry_send(connection: Redis, message_id: int) -> bool:
    """A send that failed in the job that made its text, tried again by a job of its own: after
    the first delay of a send's back-off, then with the rest of it, as if it had been a send
    job from the start."""
    first, *rest = send_retry().intervals
    at_ms = int((datetime.now(UTC).timestamp() + first) * 1000)
    return send_text_at(connection, message_id, at_ms, first, Retry(len(rest), rest))


def send_texts(connection: Redis, message_ids: list[int], per_job: int = 1) -> None:
    """Texts made and not yet sent, on the outbound queue `per_job` to a job (each job sends
    its texts as the job that made them would: `workers.jobs.send_made`). One a job is the
    most workers in parallel (Twilio answering slowly); more is less of RQ's own work (about
    57 Redis commands a job) when it answers quickly."""
    if per_job <= 1:
        for message_id in message_ids:
            send_text(connection, message_id)
        return
    for start in range(0, len(message_ids), per_job):
        chunk = message_ids[start : start + per_job]
        job_id = f"sends-{chunk[0]}-{uuid.uuid4().hex[:8]}"
        if not _enqueue(
            connection, OUTBOUND, "workers.jobs.send_made", job_id, send_retry(), chunk
        ):
            for message_id in chunk:  # one a job, or the sweep's when Redis does not answer
                send_text(connection, message_id)


def reconcile_send(connection: Redis, message_id: int, delay_s: int = 0, attempt: str = "") -> bool:
    """Find out from Twilio whether a text whose send had no answer went out, before resending.

    Delayed a little so Twilio's message list has caught up with what it created. The sweep
    passes its time slot as `attempt`: one reconciliation per text per slot, however many
    ticks find it unresolved while Twilio's list is failing.
    """
    if attempt:
        return _enqueue(
            connection,
            OUTBOUND,
            "workers.jobs.reconcile_send",
            f"reconcile-{message_id}{attempt}",
            send_retry(),
            message_id,
        )
    job_id = f"reconcile-{message_id}-{uuid.uuid4().hex[:8]}"
    options = {
        "job_id": job_id,
        "retry": send_retry(),
        "result_ttl": 60,
        "failure_ttl": FAILURE_TTL,
        "meta": _meta(),
    }
    try:
        if delay_s > 0:
            queue(OUTBOUND, connection).enqueue_in(
                timedelta(seconds=delay_s), "workers.jobs.reconcile_send", message_id, **options
            )
        else:  # straight onto the queue: a delayed job waits for RQ's scheduler to be alive
            queue(OUTBOUND, connection).enqueue(
                "workers.jobs.reconcile_send", message_id, **options
            )
    except RedisError as exc:
        log.warning("could not enqueue %s (%s); the sweep will re-queue it", job_id, exc)
        return False
    return True


def route_queue(connection: Redis) -> bool:
    """Ask for a routing pass (a supporter became free, a conversation came back to the queue)."""
    return _enqueue(
        connection, ROUTING, "workers.jobs.route_queue", f"route-{uuid.uuid4().hex}", _INBOUND_RETRY
    )


def apply_handoff_rules(connection: Redis) -> bool:
    """Ask for the handoff rules now (a supporter went offline), not only at the next tick."""
    return _enqueue(
        connection,
        ROUTING,
        "workers.jobs.apply_handoff_rules",
        f"handoffs-{uuid.uuid4().hex}",
        _INBOUND_RETRY,
    )


def periodic(connection: Redis, job: str, slot: int) -> bool:
    """Enqueue a periodic job (`tick`, `reconcile_inbound`, `purge`) once for its time slot."""
    return _enqueue(connection, ROUTING, f"workers.jobs.{job}", f"{job}-{slot}", Retry(max=1))


def job_counts(connection: Redis) -> dict[tuple[str, str], int]:
    """Jobs per (queue, state): queued, scheduled (retries and paced sends), started, failed."""
    counts = {}
    for name in ALL:
        rq_queue = queue(name, connection)
        counts[(name, "queued")] = rq_queue.count
        registries = {
            "scheduled": rq_queue.scheduled_job_registry,
            "started": rq_queue.started_job_registry,
            "failed": rq_queue.failed_job_registry,
        }
        for state, registry in registries.items():
            counts[(name, state)] = registry.get_job_count(cleanup=False)
    return counts


# RQ's failed registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedJob:
    """A job that failed for good: what it was and why, never its arguments."""

    id: str
    queue: str
    function: str
    exception: str
    message: str
    failed_at: datetime | None


def failed_jobs(connection: Redis) -> list[FailedJob]:
    """Every job in RQ's failed registries, the latest failure first."""
    found = []
    for name in ALL:
        ids = queue(name, connection).failed_job_registry.get_job_ids(cleanup=False)
        for job in Job.fetch_many(ids, connection=connection):
            if job is not None:  # its data expired before its registry entry did
                found.append(_describe(job, name))
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda f: (f.failed_at or oldest, f.id), reverse=True)


def _describe(job: Job, name: str) -> FailedJob:
    result = job.latest_result()
    exc_string = result.exc_string if result and result.type == Result.Type.FAILED else None
    exception, message = summarize(exc_string or "")
    try:
        function = (job.func_name or "?").rsplit(".", 1)[-1]
    except DeserializationError:
        function = "?"
    failed_at = result.created_at if result is not None else job.ended_at
    return FailedJob(job.id, name, function, exception, message, failed_at)


def summarize(exc_string: str) -> tuple[str, str]:
    """The exception's type and the first line of its message, from RQ's traceback text."""
    lines = exc_string.strip().splitlines()
    last = max((i for i, line in enumerate(lines) if line.startswith("Traceback ")), default=-1)
    for line in lines[last + 1 :]:
        if line and not line[0].isspace():
            kind, _, message = line.partition(": ")
            return kind.rsplit(".", 1)[-1], logs.mask(message.strip())[:200]
    return "", logs.mask(lines[0])[:200] if lines else ""


def retry_failed(connection: Redis, job_id: str) -> str | None:
    """Put a failed job back on its queue with its retries renewed; its queue, or None."""
    for name in ALL:
        registry = queue(name, connection).failed_job_registry
        if job_id not in registry:
            continue
        try:
            job = Job.fetch(job_id, connection=connection)
        except NoSuchJobError:
            return None
        # Every job here has one retry interval per attempt: renew them all.
        job.retries_left = len(job.retry_intervals or [0])
        try:
            registry.requeue(job)
        except InvalidJobOperation:
            return None  # someone else retried it just now
        return name
    return None


def retry_all_failed(connection: Redis) -> int:
    """Retry every failed job; how many went back on their queues."""
    ids = [
        job_id
        for name in ALL
        for job_id in queue(name, connection).failed_job_registry.get_job_ids(cleanup=False)
    ]
    return sum(1 for job_id in ids if retry_failed(connection, job_id) is not None)
