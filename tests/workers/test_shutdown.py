"""A worker asked to stop lets go of its pubsub listener at once."""

from __future__ import annotations

import time

from redis import Redis

from helpline.config import Settings
from tests.processes import wait_until
from workers import queues
from workers.worker import HelplineWorker


def test_the_pubsub_listener_stops_within_its_wait(settings: Settings) -> None:
    """The race that held workers for a minute at shutdown: the listener reads the
    unsubscribe's confirmation and goes back to waiting for a subscription before it is
    told to stop. Stopping then waits out the listener's wait (RQ's was 60 s)."""
    redis = Redis.from_url(settings.redis_url)
    worker = HelplineWorker([queues.queue(queues.ROUTING, redis)], connection=redis)
    worker.subscribe()
    assert worker.pubsub is not None
    wait_until(lambda: worker.pubsub.subscribed, 5, "not subscribed")
    worker.pubsub.unsubscribe()
    wait_until(lambda: not worker.pubsub.subscribed, 5, "still subscribed")
    time.sleep(0.2)  # the listener is waiting for a subscription again
    began = time.monotonic()
    worker.unsubscribe()
    assert time.monotonic() - began < 5  # seconds; a platform allows 30 for the whole stop
