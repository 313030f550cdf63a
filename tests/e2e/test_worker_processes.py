"""`python -m workers` as a process: it keeps listening however long nothing happens, and
stops promptly when asked."""

from __future__ import annotations

import signal
import time

import pytest
from redis import Redis

from tests.e2e.processes import RedisServer, Workers, wait_until
from tests.support import Helpline
from workers import queues

pytestmark = pytest.mark.slow

# redis-py's default read timeout; a worker popping on a connection that kept it quit.
REDIS_PY_SOCKET_TIMEOUT_S = 5


def test_idle_workers_keep_listening_longer_than_a_redis_read_timeout(
    helpline: Helpline, workers: Workers
) -> None:
    """Three workers with nothing to do but the tick are all still up after idling for longer
    than redis-py's read timeout (they quit there when the ticker shared their connections)."""
    workers.start(3)
    workers.wait_ready(helpline.settings.redis_url)
    time.sleep(2 * REDIS_PY_SOCKET_TIMEOUT_S)
    assert workers.running() == 3
    assert "quitting" not in workers.logs()
    assert Redis.from_url(helpline.settings.redis_url).exists("helpline:lease:tick")


def test_a_worker_outlives_redis_dying_in_the_middle_of_a_job(
    helpline: Helpline, private_redis: RedisServer, workers: Workers
) -> None:
    """Redis dies while the worker handles a job and comes back empty: RQ's worker quits on
    the error, `python -m workers` starts a fresh one, and it takes the next job."""
    workers.env["REDIS_URL"] = private_redis.url
    workers.start(1)
    workers.wait_ready(private_redis.url)
    redis = Redis.from_url(private_redis.url)
    assert private_redis.process is not None
    queues.queue(queues.ROUTING, redis).enqueue(
        "os.kill", private_redis.process.pid, signal.SIGKILL
    )
    wait_until(lambda: private_redis.process.poll() is not None, 10, "Redis still up")
    private_redis.start()
    job = queues.queue(queues.ROUTING, redis).enqueue("os.getpid")
    wait_until(lambda: job.get_status(refresh=True) == "finished", 30, "job not taken")
    assert workers.running() == 1
    assert "quit unasked" in workers.logs()


def test_workers_asked_to_stop_are_gone_within_seconds(
    helpline: Helpline, workers: Workers
) -> None:
    """SIGTERM, as a deploy or a scale-down sends it, to idle workers: each is gone well inside
    a platform's 30 s grace. (The listener race that made it a minute: test_shutdown.py.)"""
    workers.start(2)
    workers.wait_ready(helpline.settings.redis_url)
    time.sleep(1)  # past start-up: listening, subscribed, idle
    began = time.monotonic()
    for process in workers.processes:
        process.send_signal(signal.SIGTERM)
    wait_until(lambda: workers.running() == 0, 20, "workers still running 20 s after SIGTERM")
    assert time.monotonic() - began < 10
