"""Queue names and enqueue helpers: the only part of the workers the web imports.

Jobs are enqueued by dotted name, so importing this module pulls in no job code.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError

log = logging.getLogger(__name__)

INBOUND = "inbound"  # stored texts waiting to be processed and routed
OUTBOUND = "outbound"  # texts waiting to be handed to Twilio
ROUTING = "routing"  # routing passes and periodic sweeps
ALL = (INBOUND, OUTBOUND, ROUTING)

JOB_TIMEOUT = 60
_INBOUND_RETRY = Retry(max=5, interval=[1, 3, 10, 30, 60])
# Sends back off on 429/5xx: about 20 minutes in all before the job is left failed.
_SEND_RETRY = Retry(max=8, interval=[2, 5, 15, 30, 60, 120, 300, 600])


def queue(name: str, connection: Redis) -> Queue:
    return Queue(name, connection=connection, default_timeout=JOB_TIMEOUT)


def _enqueue(
    connection: Redis, name: str, func: str, job_id: str, retry: Retry, *args: object
) -> bool:
    """Enqueue once per job id; False (logged) when Redis is unreachable: the sweep recovers."""
    try:
        queue(name, connection).enqueue(
            func,
            *args,
            job_id=job_id,
            unique=True,
            retry=retry,
            result_ttl=60,
            failure_ttl=7 * 24 * 3600,
        )
    except DuplicateJobError:
        return True
    except RedisError as exc:
        log.warning("could not enqueue %s (%s); the sweep will re-queue it", job_id, exc)
        return False
    return True


def process_inbound(connection: Redis, message_id: int, attempt: str = "") -> bool:
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
        _SEND_RETRY,
        message_id,
    )


def send_texts(connection: Redis, message_ids: list[int]) -> None:
    for message_id in message_ids:
        send_text(connection, message_id)


def reconcile_send(connection: Redis, message_id: int, delay_s: int = 0) -> bool:
    """Find out from Twilio whether a text whose send had no answer went out, before resending.

    Delayed a little so Twilio's message list has caught up with what it created.
    """
    job_id = f"reconcile-{message_id}-{uuid.uuid4().hex[:8]}"
    options = {
        "job_id": job_id,
        "retry": _SEND_RETRY,
        "result_ttl": 60,
        "failure_ttl": 7 * 24 * 3600,
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
    """Enqueue a periodic job (`tick`, `reconcile_inbound`) once for its time slot."""
    return _enqueue(connection, ROUTING, f"workers.jobs.{job}", f"{job}-{slot}", Retry(max=1))
