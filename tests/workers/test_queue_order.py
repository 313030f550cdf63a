"""The order a worker takes its queues in: a drain never waits behind every queued send."""

from __future__ import annotations

from redis import Redis
from rq import get_current_job

from helpline.config import Settings
from workers import queues
from workers.worker import HelplineWorker

RAN = "test:ran"


def record(name: str) -> None:
    job = get_current_job()
    assert job is not None
    job.connection.rpush(RAN, name)


def enqueue(redis: Redis, queue: str, *names: str) -> None:
    for name in names:
        queues.queue(queue, redis).enqueue(record, name)


def ran_in_order(redis: Redis) -> list[str]:
    HelplineWorker([queues.queue(n, redis) for n in queues.ALL], connection=redis).work(burst=True)
    return [name.decode() for name in redis.lrange(RAN, 0, -1)]


def test_after_a_send_a_waiting_drain_goes_first_and_after_a_drain_a_send(
    settings: Settings,
) -> None:
    redis = Redis.from_url(settings.redis_url)
    enqueue(redis, queues.OUTBOUND, "send 1", "send 2", "send 3")
    enqueue(redis, queues.INBOUND, "drain 1", "drain 2")
    enqueue(redis, queues.ROUTING, "tick")
    assert ran_in_order(redis) == [
        "send 1",  # a worker starts with the outbound queue
        "drain 1",  # after a send: the drain waiting
        "send 2",  # after a drain: a send
        "drain 2",
        "send 3",
        "tick",  # routing comes before inbound, after outbound
    ]


def test_with_nothing_to_drain_sends_and_routing_keep_their_order(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url)
    enqueue(redis, queues.ROUTING, "tick")
    enqueue(redis, queues.OUTBOUND, "send 1", "send 2")
    assert ran_in_order(redis) == ["send 1", "send 2", "tick"]


def test_every_order_holds_every_queue_once() -> None:
    for after in queues.ALL:
        order = queues.serving_order(after)
        assert sorted(order) == sorted(queues.ALL)
    assert queues.serving_order(queues.INBOUND)[-1] == queues.INBOUND
    assert queues.serving_order(queues.OUTBOUND)[0] == queues.INBOUND


def test_the_send_drain_goes_before_runs_of_sends_queued_earlier(settings: Settings) -> None:
    """A supporter's reply goes out with the send drain: not behind a flood's greetings."""
    redis = Redis.from_url(settings.redis_url)
    queues.send_texts(redis, [1, 2, 3, 4], per_job=2)  # a drain's greetings, two runs
    assert queues.texts_made(redis, [5])  # a reply: it asks for the send drain
    waiting = queues.queue(queues.OUTBOUND, redis).get_job_ids()
    assert len(waiting) == 3 and waiting[0].startswith("sends-drain-")
