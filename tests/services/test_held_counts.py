"""Each supporter's held conversations, kept on their row by the database (migration 0018),
always equal what counting their conversations gives, whatever writes the conversations."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session

from helpline.config import Settings
from helpline.db import get_engine
from helpline.models import ROOM_PREDICATE, Conversation, Texter, User, utcnow
from helpline.services import snapshots
from tests.support import Helpline

SUPPORTERS = 3
_texters = itertools.count()
STATUSES = ("queued", "active", "closed")
PEOPLE = st.one_of(st.none(), st.integers(0, SUPPORTERS - 1))

# One write to a conversation (picked by its place among those made so far).
STEPS = st.one_of(
    st.tuples(st.just("open"), st.sampled_from(STATUSES), PEOPLE, st.booleans()),
    st.tuples(st.just("status"), st.integers(0, 20), st.sampled_from(STATUSES)),
    st.tuples(st.just("holder"), st.integers(0, 20), PEOPLE),
    st.tuples(st.just("offer"), st.integers(0, 20), PEOPLE),
    st.tuples(st.just("urgent"), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("unrelated"), st.integers(0, 20)),
    st.tuples(st.just("delete"), st.integers(0, 20)),
)


def held(db: Session) -> dict[int, tuple[int, int]]:
    """Per supporter, what the triggers kept: (held, of which urgent)."""
    rows = db.execute(select(User.id, User.held_conversations, User.held_urgent))
    return {uid: (n, urgent) for uid, n, urgent in rows}


def counted(db: Session, ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per supporter, what counting their conversations gives (the routing pass's old way)."""
    plain = snapshots.loads(db, 1, ids)
    weighted = snapshots.loads(db, 2, ids)
    zero = snapshots.Load()
    return {
        uid: (
            plain.get(uid, zero).count,
            weighted.get(uid, zero).weighted - plain.get(uid, zero).weighted,
        )
        for uid in ids
    }


@hypothesis.settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(STEPS, max_size=25))
def test_held_counts_follow_every_write(settings: Settings, steps: list[tuple[Any, ...]]) -> None:
    with Session(get_engine(settings.database_url)) as db:
        db.execute(delete(Conversation))
        db.execute(delete(Texter))
        db.execute(delete(User))
        people = [
            int(
                db.scalar(
                    insert(User)
                    .values(email=f"s{i}@example.org", name=f"S{i}", password_hash="x")
                    .returning(User.id)
                )
            )
            for i in range(SUPPORTERS)
        ]
        convos: list[int] = []
        for step in steps:
            write(db, step, people, convos)
        assert held(db) == counted(db, people)
        db.rollback()


def write(db: Session, step: tuple[Any, ...], people: list[int], convos: list[int]) -> None:
    """Carry out one step in SQL; `convos` follows the conversations that exist."""
    kind, *args = step

    def who(index: int | None) -> int | None:
        return None if index is None else people[index]

    if kind == "open":
        status, holder, urgent = args
        if status == "active" and holder is None:
            status = "queued"  # an active conversation always has a holder
        priority = "urgent" if urgent else "normal"
        convos.append(open_conversation(db, next(_texters), status, who(holder), priority))
        return
    if not convos:
        return
    target = convos[args[0] % len(convos)]
    if kind == "delete":
        db.execute(delete(Conversation).where(Conversation.id == target))
        convos.remove(target)
        return
    values = {
        "status": lambda: {"status": args[1]},
        "holder": lambda: {"supporter_id": who(args[1])},
        "offer": lambda: {"offered_to_id": who(args[1])},
        "urgent": lambda: {"priority": "urgent" if args[1] else "normal"},
        "unrelated": lambda: {"last_activity_at": utcnow() + timedelta(hours=1)},
    }[kind]()
    db.execute(update(Conversation).where(Conversation.id == target).values(**values))


def test_routing_reads_only_supporters_with_room(settings: Settings) -> None:
    """The routing pass's read goes through the partial index, not over the roster."""
    with Session(get_engine(settings.database_url)) as db:
        postgresql = db.get_bind().dialect.name == "postgresql"
        room = ROOM_PREDICATE.format(true="true" if postgresql else "1")
        query = f"SELECT id FROM users WHERE {room}"
        if postgresql:
            db.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table: seq scan wins
            plan = " ".join(r[0] for r in db.execute(text("EXPLAIN " + query)))
        else:
            plan = " ".join(str(r[-1]) for r in db.execute(text("EXPLAIN QUERY PLAN " + query)))
        assert "ix_users_with_room" in plan


def open_conversation(
    db: Session, n: int, status: str, holder: int | None, priority: str = "normal"
) -> int:
    """A texter and their conversation, written in SQL (no ORM, no service)."""
    now = utcnow()
    texter = db.scalar(
        insert(Texter)
        .values(address=f"+1555{n:07d}", address_key=f"k{n}", opted_out=False, created_at=now)
        .returning(Texter.id)
    )
    return int(
        db.scalar(
            insert(Conversation)
            .values(
                texter_id=texter,
                status=status,
                supporter_id=holder,
                priority=priority,
                required_skills=[],
                excluded_supporter_ids=[],
                channel="sms",
                helpline_number="+15550000000",
                waiting_since=now,
                created_at=now,
            )
            .returning(Conversation.id)
        )
    )


@pytest.mark.parametrize(("weight", "has_room"), [(1, True), (2, False)])
def test_an_urgent_conversation_and_an_offer_weigh_on_the_limit(
    helpline: Helpline, weight: int, has_room: bool
) -> None:
    """A limit of 4: one urgent conversation held and one offered count 2 (urgent weighing 1)
    or 3 (weighing 2); a second urgent one makes 3, room left, or 5, none."""
    sam = helpline.supporter(max_conversations=4)
    other = helpline.supporter("Alex Moss")
    grace = timedelta(minutes=5)
    with Session(get_engine(helpline.settings.database_url)) as db:
        open_conversation(db, 1, "active", sam.id, "urgent")
        offered = open_conversation(db, 2, "active", other.id)
        db.execute(
            update(Conversation).where(Conversation.id == offered).values(offered_to_id=sam.id)
        )
        found = snapshots.candidates(db, utcnow(), grace, weight)
        sams = next(s for s in found.supporters if s.id == sam.id)
        assert (sams.active_conversations, sams.load) == (2, weight + 1)
        open_conversation(db, 3, "active", sam.id, "urgent")
        found = snapshots.candidates(db, utcnow(), grace, weight)
        assert (sam.id in {s.id for s in found.supporters}) is has_room
        db.rollback()
