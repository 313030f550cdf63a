"""Texts arriving as Twilio delivers them, many at once, and what the database made of them."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import Flask
from redis import Redis
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpline.config import Settings
from helpline.models import Message
from tests.fakes.twilio_api import FakeTwilio
from tests.support import HELPLINE_NUMBER, message_sid, sign
from workers import queues


def inbound_form(settings: Settings, from_: str, body: str) -> dict[str, str]:
    return {
        "MessageSid": message_sid(),
        "AccountSid": settings.twilio_account_sid or "",
        "From": from_,
        "To": HELPLINE_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }


@dataclass(frozen=True)
class Answer:
    sid: str
    status: int
    seconds: float
    at: float  # time.time() when the webhook answered


@dataclass
class Burst:
    """Posts signed inbound webhooks from several threads, `per_second` at most, in order."""

    app: Flask
    forms: list[dict[str, str]]
    per_second: float = 100.0
    threads: int = 6
    answers: list[Answer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _runner: threading.Thread | None = None

    @property
    def answered(self) -> int:
        with self._lock:
            return len(self.answers)

    def start(self) -> Burst:
        self._runner = threading.Thread(target=self._run, daemon=True)
        self._runner.start()
        return self

    def join(self, timeout: float = 120) -> list[Answer]:
        assert self._runner is not None
        self._runner.join(timeout)
        assert not self._runner.is_alive(), "webhooks still being posted"
        return list(self.answers)

    def _run(self) -> None:
        began = time.monotonic()
        with ThreadPoolExecutor(self.threads) as pool:
            for i, form in enumerate(self.forms):
                delay = began + i / self.per_second - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self._post, form)

    def _post(self, form: dict[str, str]) -> None:
        settings: Settings = self.app.extensions["helpline"].settings
        url = settings.public_url + "/twilio/messages"
        started = time.monotonic()
        answer = self.app.test_client().post(
            "/twilio/messages",
            data=urlencode(form),
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": sign(settings.webhook_auth_token, url, form)},
        )
        with self._lock:
            self.answers.append(
                Answer(
                    form["MessageSid"], answer.status_code, time.monotonic() - started, time.time()
                )
            )


def count_inbound(db: Session, processed: bool | None = None) -> int:
    """Inbound texts stored (and, if asked, processed or not)."""
    db.rollback()  # a fresh snapshot: see what the workers wrote
    query = select(func.count()).select_from(Message).where(Message.direction == "in")
    if processed is not None:
        column = Message.processed_at
        query = query.where(column.is_not(None) if processed else column.is_(None))
    return int(db.scalar(query) or 0)


def outbound_texts(db: Session) -> list[Message]:
    db.rollback()
    db.expire_all()
    return list(db.scalars(select(Message).where(Message.direction == "out").order_by(Message.id)))


def texts_sent_twice(twilio: FakeTwilio) -> dict[tuple[str, str], int]:
    """(To, Body) pairs Twilio was asked to send more than once: must stay empty."""
    counts = Counter((t["To"], t["Body"]) for t in twilio.sent)
    return {pair: n for pair, n in counts.items() if n > 1}


def failed_jobs(redis: Redis) -> dict[str, list[str]]:
    """RQ's failed registry, queue by queue, leaving out empty queues."""
    found = {}
    for name in queues.ALL:
        ids = FailedJobRegistry(name, connection=redis).get_job_ids()
        if ids:
            found[name] = ids
    return found
