"""Real worker processes for the end-to-end tests, with their logs shown when a test fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpline.config import Settings
from tests.e2e.processes import RedisServer, Workers, process_env
from tests.fakes.twilio_api import FakeTwilio


@pytest.fixture
def workers(settings: Settings, fake_twilio: FakeTwilio, tmp_path: Path) -> Iterator[Workers]:
    """`python -m workers` processes on the test database and Redis; none started yet."""
    pool = Workers(process_env(settings), tmp_path)
    try:
        yield pool
    finally:
        pool.stop()
        print(pool.logs())  # shown by pytest only when the test failed


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, to take away: never the machine's shared one.
    Ask for it before `workers`, so the workers stop before it does."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.crash()
