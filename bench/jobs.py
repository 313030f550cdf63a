"""The queue's floor: a job that does nothing, run by the same workers as the real ones."""

from __future__ import annotations

import time

from rq import get_current_job

DONE_KEY = "bench:noop:done"


def noop() -> float:
    """Do nothing; return when it ran."""
    return time.time()


def counted_noop() -> None:
    """Do nothing but count itself done (one INCR), so a batch's end can be seen."""
    job = get_current_job()
    assert job is not None
    job.connection.incr(DONE_KEY)
