"""Test helpers in the helpline's words: text in, run the workers, make staff, call the API."""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from helpline.config import Settings
from helpline.models import User, utcnow
from helpline.services import shifts, users
from tests.fakes.twilio_api import FakeTwilio
from workers import queues
from workers.worker import HelplineWorker

HELPLINE_NUMBER = "+15550100000"
PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


@contextmanager
def statements_run() -> Iterator[list[str]]:
    """Every SQL statement this process runs inside the block, on any database, whitespace
    collapsed."""
    run: list[str] = []

    def heard(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        run.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", heard)
    try:
        yield run
    finally:
        event.remove(Engine, "before_cursor_execute", heard)


def texter_number() -> str:
    return f"+1555020{next(_numbers):04d}"


def message_sid() -> str:
    return "SM" + secrets.token_hex(16)


def sign(auth_token: str, url: str, form: dict[str, str]) -> str:
    """X-Twilio-Signature for a POST of `form` to `url`, computed as Twilio does."""
    return str(RequestValidator(auth_token).compute_signature(url, form))


def release_scheduled(rq_queues: list[Queue]) -> int:
    """Enqueue now every job scheduled for later (retries waiting out their backoff)."""
    moved = 0
    for rq_queue in rq_queues:
        registry = rq_queue.scheduled_job_registry
        for job_id in registry.get_job_ids():
            job = Job.fetch(job_id, connection=rq_queue.connection)
            registry.remove(job)
            rq_queue.enqueue_job(job)
            moved += 1
    return moved


def _enqueue_due(rq_queues: list[Queue]) -> int:
    """Enqueue the scheduled jobs whose time has come, as RQ's scheduler does."""
    moved = 0
    for rq_queue in rq_queues:
        registry = rq_queue.scheduled_job_registry
        for job_id in registry.get_jobs_to_schedule(int(time.time())):
            job = Job.fetch(job_id, connection=rq_queue.connection)
            registry.remove(job)
            rq_queue.enqueue_job(job)
            moved += 1
    return moved


@dataclass
class Helpline:
    app: Flask
    client: FlaskClient
    db: Session
    settings: Settings
    twilio: FakeTwilio
    _tokens: dict[int, str] = field(default_factory=dict)

    # Texter side -------------------------------------------------------------------------
    def text_in(
        self,
        body: str,
        from_: str | None = None,
        sid: str | None = None,
        to: str = HELPLINE_NUMBER,
        **extra: str,
    ) -> TestResponse:
        """Deliver a text to the webhook, signed exactly as Twilio signs it."""
        form = {
            "MessageSid": sid or message_sid(),
            "AccountSid": self.settings.twilio_account_sid or "",
            "From": from_ or texter_number(),
            "To": to,
            "Body": body,
            "NumMedia": "0",
            **extra,
        }
        return self.post_signed("/twilio/messages", form)

    def post_signed(
        self, path: str, form: dict[str, str], signature: str | None = None
    ) -> TestResponse:
        url = self.settings.public_url + path
        return self.client.post(
            path,
            data=urlencode(form),
            content_type="application/x-www-form-urlencoded",
            headers={
                "X-Twilio-Signature": signature or sign(self.settings.webhook_auth_token, url, form)
            },
        )

    def status_callback(self, sid: str, status: str, error_code: str = "") -> TestResponse:
        form = {
            "MessageSid": sid,
            "MessageStatus": status,
            "AccountSid": self.settings.twilio_account_sid or "",
        }
        if error_code:
            form["ErrorCode"] = error_code
        return self.post_signed("/twilio/status", form)

    # Workers -----------------------------------------------------------------------------
    def run_jobs(self, retries: bool = False) -> None:
        """Run every queued job in this process, as a worker would, until the queues are empty.

        With `retries`, jobs that failed and were scheduled to retry later run at once, again
        and again, until none is left scheduled.
        """
        redis = Redis.from_url(self.settings.redis_url)
        rq_queues = [queues.queue(n, redis) for n in queues.ALL]
        for _ in range(20):
            HelplineWorker(rq_queues, connection=redis).work(burst=True)
            if not (retries and release_scheduled(rq_queues)):
                break
        self.look_again()

    def run_jobs_on_time(self, timeout: float = 30.0) -> None:
        """Run jobs as a worker beside RQ's scheduler does: a job scheduled for later is queued
        once its (whole) second has come. Returns when nothing is queued or scheduled."""
        redis = Redis.from_url(self.settings.redis_url)
        rq_queues = [queues.queue(n, redis) for n in queues.ALL]
        lock, stop = threading.Lock(), threading.Event()

        def schedule() -> None:
            while not stop.wait(0.05):
                with lock:
                    _enqueue_due(rq_queues)

        scheduler = threading.Thread(target=schedule, daemon=True)
        scheduler.start()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                HelplineWorker(rq_queues, connection=redis).work(burst=True)
                with lock:
                    waiting = sum(
                        q.count + q.scheduled_job_registry.get_job_count(cleanup=False)
                        for q in rq_queues
                    )
                if not waiting:
                    self.look_again()
                    return
                time.sleep(0.02)
        finally:
            stop.set()
            scheduler.join()
        raise AssertionError("jobs still waiting after the timeout")

    def look_again(self) -> None:
        """End this session's read snapshot and forget loaded rows: see what others wrote."""
        self.db.rollback()
        self.db.expire_all()

    # Staff -------------------------------------------------------------------------------
    def supporter(
        self,
        name: str = "Sam Rivers",
        role: str = "supporter",
        on_shift: bool = True,
        status: str = "available",
        **fields: Any,
    ) -> User:
        self.db.rollback()  # leave any read snapshot before writing (SQLite)
        email = fields.pop("email", f"{name.split()[0].lower()}{next(_numbers)}@example.org")
        user = users.create_user(self.db, email, name, PASSWORD, role, **fields)
        user.status = status
        if on_shift:
            now = utcnow()
            shifts.create_shift(
                self.db, user.id, now - timedelta(hours=1), now + timedelta(hours=4)
            )
        self.db.commit()
        return user

    def coordinator(self, name: str = "Casey Lee", **fields: Any) -> User:
        return self.supporter(name, role="coordinator", on_shift=False, status="offline", **fields)

    def token(self, user: User) -> str:
        answer = self.client.post(
            "/api/v1/tokens", json={"email": user.email, "password": PASSWORD}
        )
        assert answer.status_code == 201, answer.get_json()
        return str(answer.get_json()["token"])

    def api(self, method: str, path: str, user: User | None = None, **kwargs: Any) -> TestResponse:
        headers = dict(kwargs.pop("headers", {}))
        if user is not None:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kwargs)
