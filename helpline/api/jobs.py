"""API: RQ's failed jobs, for coordinators: what failed and why (never a job's arguments), and
putting them back on their queues. Every job is idempotent, so a retry is always safe."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from helpline import web
from helpline.api import bp, fail, page_limit, requires
from helpline.api.render import iso
from workers import queues


def render_failed(job: queues.FailedJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "queue": job.queue,
        "function": job.function,
        "exception": job.exception,
        "message": job.message,
        "failed_at": iso(job.failed_at),
    }


@bp.get("/jobs/failed")
@requires("coordinator")
def list_failed_jobs() -> Response:
    """The latest failure first, paged by a cursor that survives jobs retried in between."""
    limit = page_limit()
    found = sorted(queues.failed_jobs(web.redis()), key=_position, reverse=True)
    after = request.args.get("after")
    if after is not None:
        position = _cursor_position(after)
        found = [job for job in found if _position(job) < position]
    shown = found[:limit]
    next_url = None
    if len(found) > limit:
        cursor = "{}.{}".format(*_position(shown[-1]))
        next_url = url_for(".list_failed_jobs", _external=True, limit=limit, after=cursor)
    return jsonify(items=[render_failed(job) for job in shown], next=next_url)


def _position(job: queues.FailedJob) -> tuple[int, str]:
    failed_ms = int(job.failed_at.timestamp() * 1000) if job.failed_at else 0
    return failed_ms, job.id


def _cursor_position(cursor: str) -> tuple[int, str]:
    failed_ms, _, job_id = cursor.partition(".")
    if not (failed_ms.isascii() and failed_ms.isdigit()) or not job_id:
        raise fail(400, "after must be the cursor from the previous page's next link")
    return int(failed_ms), job_id


@bp.post("/jobs/failed/<job_id>/retry")
@requires("coordinator")
def retry_failed_job(job_id: str) -> Response:
    queue = queues.retry_failed(web.redis(), job_id)
    if queue is None:
        raise fail(404, f"no failed job with id {job_id}")
    return jsonify(id=job_id, queue=queue, status="queued")


@bp.post("/jobs/failed/retry")
@requires("coordinator")
def retry_all_failed_jobs() -> Response:
    return jsonify(retried=queues.retry_all_failed(web.redis()))
