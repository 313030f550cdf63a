"""Inbound texts stored in one statement: once per MessageSid, in commit order per texter."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from helpline.config import Settings
from helpline.db import autocommit_engine, get_engine
from helpline.models import Message, utcnow
from helpline.services import intake
from tests.support import HELPLINE_NUMBER, message_sid

NUMBER = "+15550401234"


def inbound(body: str = "hi", sid: str | None = None) -> intake.Inbound:
    return intake.Inbound(sid or message_sid(), NUMBER, HELPLINE_NUMBER, body, 0)


def test_a_redelivered_text_is_stored_once(settings: Settings) -> None:
    text_in = inbound()
    with Session(get_engine(settings.database_url)) as db, db.begin():
        first = intake.store(db, text_in, utcnow())
        again = intake.store(db, text_in, utcnow())
        assert first == again
        assert db.scalar(select(Message.body).where(Message.id == first)) == "hi"


@pytest.mark.postgres
def test_a_texters_ids_follow_commit_order(settings: Settings) -> None:
    """The texter's lock is taken before the store draws its id: a store that waits behind
    another of the same texter's gets an id after that one's, so a worker that sees a text
    has seen every earlier one."""
    engine = autocommit_engine(settings.database_url)
    assert engine is not None
    key = int(inbound().texter_key[:15], 16)
    stored: list[int] = []
    with get_engine(settings.database_url).connect() as holder:
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        waiting = threading.Thread(
            target=lambda: stored.append(_store_alone(engine, inbound("second")))
        )
        waiting.start()
        _until_waiting_on_advisory_lock(settings)
        assert waiting.is_alive() and not stored  # blocked on the texter's lock
        with Session(bind=holder) as db:
            first = intake.store(db, inbound("first"), utcnow())  # the id drawn under the lock
        holder.commit()
        waiting.join(10)
    assert stored and stored[0] > first


def _store_alone(engine: Engine, text_in: intake.Inbound) -> int:
    with engine.connect() as connection:
        return intake.store(connection, text_in, utcnow())


def _until_waiting_on_advisory_lock(settings: Settings, timeout_s: float = 10) -> None:
    """Until PostgreSQL shows a session waiting for an advisory lock (the store, blocked)."""
    deadline = time.monotonic() + timeout_s
    query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    while time.monotonic() < deadline:
        with get_engine(settings.database_url).connect() as connection:
            if connection.scalar(query):
                return
        time.sleep(0.02)
    raise AssertionError("the store never waited for the texter's lock")
