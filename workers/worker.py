"""The RQ worker every process runs: each job's log lines carry its id, a failure's traceback
is masked before RQ keeps it in Redis, and failures and retries are counted."""

from __future__ import annotations

from typing import Any

from rq import Queue, SimpleWorker
from rq.job import Job

from helpline import logs, telemetry


class HelplineWorker(SimpleWorker):
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
