"""`python -m workers` as a process: it keeps listening however long nothing happens."""

from __future__ import annotations

import time

import pytest
from redis import Redis

from tests.e2e.processes import Workers
from tests.support import Helpline

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
