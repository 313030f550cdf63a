"""`python -m workers`: one RQ worker for every queue, with RQ's scheduler and the tick.

Settings are read once, and the jobs' code is loaded before the first job; no database
connection is opened before it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
import time
from types import FrameType

from redis import Redis
from redis.exceptions import RedisError

from helpline import logs
from helpline.preflight import check_or_exit
from workers import queues, runtime
from workers.worker import HelplineWorker

log = logging.getLogger("workers")

TICK_S = 5
# RQ restarts a dead scheduler (its process dies when Redis goes away, or with a killed worker
# that held its lock) only at a worker's maintenance, every 10 minutes by default; retries and
# reconciliations waiting in the scheduled registry would wait that long.
MAINTENANCE_S = 30
# Periodic jobs: (job, every so many seconds). Each runs on exactly one worker per period.
PERIODIC = (("tick", TICK_S), ("reconcile_inbound", 60), ("purge", 3600))
# Pause before a fresh worker replaces one that quit unasked.
RESTART_S = 1.0


class Worker(HelplineWorker):
    """Our worker (workers.worker), remembering whether it was asked to stop (SIGTERM, SIGINT)."""

    stop_asked = False
    # serve()'s own stop, set by its handlers until this worker installs RQ's.
    stop_before_start: threading.Event | None = None

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_asked = True
        super().request_stop(signum, frame)

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()
        # A stop asked for while this worker was starting (before RQ's handlers were in
        # place) ends it before it takes a job, instead of being lost.
        if self.stop_before_start is not None and self.stop_before_start.is_set():
            self.stop_asked = True
            self._stop_requested = True


def keep_ticking(redis: Redis, stop: threading.Event, scale: float = 1.0) -> None:
    """Every period, exactly one worker across all hosts enqueues each periodic job.

    The leases live in Redis, so an empty Redis (restart, loss) just means the next worker
    to look takes them: periodic work needs nothing that survives in Redis.
    """
    while not stop.is_set():
        for name, seconds in PERIODIC:
            interval = max(1, int(seconds * scale))
            try:
                if redis.set(f"helpline:lease:{name}", "1", nx=True, ex=interval):
                    queues.periodic(redis, name, slot=int(time.time()) // interval)
            except RedisError as exc:
                log.warning("%s skipped, Redis unreachable: %s", name, exc)
        stop.wait(TICK_S * scale / 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    args = parser.parse_args(argv)
    logs.configure("worker")
    settings = check_or_exit("worker")
    runtime.configure(settings)
    load_job_code()
    # The ticker has a client of its own. RQ lengthens its connections' read timeout for its
    # blocking pop; a connection the ticker opened in a shared pool keeps redis-py's default
    # (5 s), and an idle worker popping on it times out and quits.
    stop = threading.Event()
    ticker = threading.Thread(
        target=keep_ticking, args=(Redis.from_url(settings.redis_url), stop), daemon=True
    )
    ticker.start()
    try:
        serve(Redis.from_url(settings.redis_url), args.burst, stop)
    finally:
        stop.set()
    return 0


def load_job_code() -> None:
    """Import the jobs' modules, and have the Twilio client load its messages API, now rather
    than in the first job: about a second of CPU that the first texter after a start waited
    for, in each worker process (RQ imports a job's module when it first runs one; the
    twilio library loads its API's modules when first asked for them)."""
    importlib.import_module("workers.jobs")
    client = runtime.twilio()
    if client is not None:
        client.messages  # noqa: B018 (loaded on first use)


def serve(redis: Redis, burst: bool, stop: threading.Event) -> None:
    """Work until asked to stop. RQ's worker quits when Redis fails it in the middle of a job
    (Redis lost or restarted); a fresh worker takes its place, and the sweep re-drives the job."""
    while not stop.is_set():
        # Until a worker installs RQ's handlers, a stop asked for is ours to honour.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        worker = None
        try:
            worker = Worker(
                [queues.queue(n, redis) for n in queues.ALL],
                connection=redis,
                maintenance_interval=MAINTENANCE_S,
            )
            worker.stop_before_start = stop
            worker.work(with_scheduler=True, burst=burst)
        except RedisError as exc:
            log.warning("worker could not start, Redis unreachable: %s", exc)
        if burst or (worker is not None and worker.stop_asked):
            return
        log.warning("worker quit unasked; a fresh one starts in %s s", RESTART_S)
        stop.wait(RESTART_S)


if __name__ == "__main__":
    sys.exit(main())
