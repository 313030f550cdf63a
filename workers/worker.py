"""The RQ worker every process runs: each job's log lines carry its id, a failure's traceback
is masked before RQ keeps it in Redis, and failures and retries are counted."""

from __future__ import annotations

from typing import Any

from rq import Queue, SimpleWorker
from rq.job import Job

from helpline import logs, telemetry
from workers import queues


class HelplineWorker(SimpleWorker):
    # How long the thread listening on the worker's pubsub channel (RQ's stop and kill
    # commands) waits for a message before looking again. RQ waits 60 s; since redis-py 8.2,
    # stopping that thread waits for it, so a worker asked to stop took up to a minute to go
    # (a platform kills it after 30 s). Looking every second costs no Redis command.
    PUBSUB_WAIT_S = 1.0

    def subscribe(self) -> None:
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=self.PUBSUB_WAIT_S,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )

    def reorder_queues(self, reference_queue: Queue) -> None:
        """After each job, the queues in `queues.serving_order` (any others last)."""
        order = queues.serving_order(reference_queue.name)
        rank = {name: place for place, name in enumerate(order)}
        self._ordered_queues = sorted(self.queues, key=lambda q: rank.get(q.name, len(order)))

    def execute_job(self, job: Job, queue: Queue) -> Any:
        with logs.bound(role="worker", job_id=job.id, request_id=job.meta.get("request_id")):
            return super().execute_job(job, queue)

    def handle_job_failure(
        self, job: Job, queue: Queue, started_job_registry: Any = None, exc_string: str = ""
    ) -> None:
        retried = job.should_retry and self._stopped_job_id != job.id
        super().handle_job_failure(job, queue, started_job_registry, logs.mask(exc_string))
        counter = telemetry.JOB_RETRIES if retried else telemetry.JOB_FAILURES
        telemetry.count(self.connection, counter, job=job_name(job))


def job_name(job: Job) -> str:
    try:
        return (job.func_name or "unknown").rsplit(".", 1)[-1]
    except Exception:  # a job whose data cannot be read is still counted
        return "unknown"
