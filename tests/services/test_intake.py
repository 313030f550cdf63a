"""Inbound texts stored in one statement: once per MessageSid, in commit order per texter."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from helpline import vault
from helpline.config import Settings
from helpline.db import autocommit_engine, get_engine
from helpline.models import Message, utcnow
from helpline.services import intake
from tests.support import HELPLINE_NUMBER, message_sid

NUMBER = "+15550401234"


def inbound(body: str = "hi", sid: str | None = None, number: str = NUMBER) -> intake.Inbound:
    return intake.Inbound(sid or message_sid(), number, HELPLINE_NUMBER, body, 0)


def test_a_redelivered_text_is_stored_once(settings: Settings) -> None:
    text_in = inbound()
    with Session(get_engine(settings.database_url)) as db, db.begin():
        first = intake.store(db, text_in, utcnow())
        again = intake.store(db, text_in, utcnow())
        assert first == again
        assert db.scalar(select(Message.body).where(Message.id == first)) == "hi"


def test_a_batch_stores_its_texts_in_order_and_finds_those_stored_before(
    settings: Settings,
) -> None:
    """Each text of a batch gets its own row id, in the batch's order; a redelivered text, or
    one twice in the batch, gets the id of the row stored first."""
    earlier = inbound("earlier")
    with Session(get_engine(settings.database_url)) as db, db.begin():
        stored_before = intake.store(db, earlier, utcnow())
    first, second = inbound("first"), inbound("second", number="+15550409999")
    batch = [first, earlier, second, first]
    with get_engine(settings.database_url).begin() as connection:
        ids = intake.store_all(connection, [(text_in, utcnow()) for text_in in batch])
    assert ids[1] == stored_before
    assert ids[0] == ids[3] and stored_before < ids[0] < ids[2]
    with Session(get_engine(settings.database_url)) as db:
        rows = db.execute(select(Message.id, Message.body, Message.from_address)).all()
    assert sorted(rows) == [
        (stored_before, "earlier", NUMBER),
        (ids[0], "first", NUMBER),
        (ids[2], "second", "+15550409999"),
    ]


def test_a_stored_text_keeps_its_addresses_sealed_and_its_time_exact(settings: Settings) -> None:
    """The store's values go through the columns' own types (on SQLite too, where the batch's
    rows are made ready before the insert): both addresses sealed at rest, the time kept."""
    arrived = utcnow()
    with get_engine(settings.database_url).begin() as connection:
        [message_id] = intake.store_all(connection, [(inbound("sealed"), arrived)])
        raw = connection.execute(
            text("SELECT from_address, to_address FROM messages WHERE id = :id"),
            {"id": message_id},
        ).one()
    assert NUMBER not in raw.from_address and HELPLINE_NUMBER not in raw.to_address
    assert vault.current().open(raw.from_address) == NUMBER
    assert vault.current().open(raw.to_address) == HELPLINE_NUMBER
    with Session(get_engine(settings.database_url)) as db:
        assert db.get_one(Message, message_id).created_at == arrived


@pytest.mark.postgres
def test_a_texters_ids_follow_commit_order(settings: Settings) -> None:
    """The texter's lock is taken before the store draws its id: a store that waits behind
    another of the same texter's gets an id after that one's, so a worker that sees a text
    has seen every earlier one."""
    engine = autocommit_engine(settings.database_url)
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


@pytest.mark.postgres
def test_a_batch_waits_for_each_of_its_texters(settings: Settings) -> None:
    """A batch takes the lock of every texter in it before it draws any id: one whose texter
    is being stored elsewhere waits, and its texts come after that texter's earlier one."""
    engine = autocommit_engine(settings.database_url)
    other = inbound("other texter", number="+15550407777")
    key = intake.lock_key(inbound().texter_key)
    stored: list[list[int]] = []

    def store_batch() -> None:
        with engine.connect() as connection:
            batch = [(other, utcnow()), (inbound("second"), utcnow())]
            stored.append(intake.store_all(connection, batch))

    with get_engine(settings.database_url).connect() as holder:
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        waiting = threading.Thread(target=store_batch)
        waiting.start()
        _until_waiting_on_advisory_lock(settings)
        assert waiting.is_alive() and not stored
        with Session(bind=holder) as db:
            first = intake.store(db, inbound("first"), utcnow())
        holder.commit()
        waiting.join(10)
    assert stored and first < stored[0][0] < stored[0][1]
