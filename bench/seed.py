"""Rows a benchmark starts from, inserted in bulk: supporters on shift (with API tokens when
asked), texters, and conversations waiting or held."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from helpline import vault
from helpline.models import OPEN_STATUSES, Conversation, Shift, Texter, User
from helpline.services import users
from tests.support import HELPLINE_NUMBER

_batches = itertools.count(1)
_numbers = itertools.count(1)


def supporters(session: Session, count: int, max_conversations: int, now: datetime) -> list[int]:
    """`count` available supporters on a shift covering the next twelve hours; their ids."""
    batch = next(_batches)
    session.execute(
        insert(User),
        [
            {
                "email": f"s{batch}-{i}@bench.test",
                "name": f"Supporter {batch}-{i}",
                "role": "supporter",
                "password_hash": "!",  # nobody signs in with a password here
                "skills": [],
                "languages": [],
                "skill_expiry": {},
                "max_conversations": max_conversations,
                "status": "available",
                "is_active": True,
                "timezone": "UTC",
                "created_at": now,
            }
            for i in range(count)
        ],
    )
    ids = list(session.scalars(select(User.id).where(User.email.like(f"s{batch}-%"))))
    session.execute(
        insert(Shift),
        [
            {
                "supporter_id": sid,
                "starts_at": now - timedelta(hours=1),
                "ends_at": now + timedelta(hours=12),
                "timezone": "UTC",
                "cancelled": [],
                "created_at": now,
            }
            for sid in ids
        ],
    )
    return ids


def tokens(session: Session, supporter_ids: list[int]) -> dict[int, str]:
    """An API bearer token for each supporter."""
    found = {}
    for sid in supporter_ids:
        user = session.get(User, sid)
        assert user is not None
        found[sid] = users.issue_token(session, user)
    return found


def texters(session: Session, count: int, now: datetime) -> list[int]:
    """`count` new texters; their ids."""
    rows = []
    for _ in range(count):
        address = f"+1666{next(_numbers):07d}"
        rows.append(
            {
                "address": address,
                "address_key": vault.index(address),
                "opted_out": False,
                "created_at": now,
            }
        )
    return list(session.scalars(insert(Texter).returning(Texter.id), rows))


def conversations(
    session: Session, texter_ids: list[int], now: datetime, supporter_ids: list[int] | None = None
) -> None:
    """One conversation per texter: waiting (oldest first) or, given supporters, held by them
    in turn."""
    rows = []
    for i, tid in enumerate(texter_ids):
        held = supporter_ids[i % len(supporter_ids)] if supporter_ids else None
        rows.append(
            {
                "texter_id": tid,
                "status": "active" if held else "queued",
                "priority": "normal",
                "required_skills": [],
                "excluded_supporter_ids": [],
                "channel": "sms",
                "helpline_number": HELPLINE_NUMBER,
                "supporter_id": held,
                "waiting_since": now - timedelta(seconds=len(texter_ids) - i),
                "assigned_at": now if held else None,
                "last_inbound_at": now,
                "last_activity_at": now,
                "created_at": now,
            }
        )
    session.execute(insert(Conversation), rows)


def close_all(session: Session, now: datetime) -> None:
    """Every open conversation closed, so the next step starts with everyone free."""
    session.execute(
        update(Conversation)
        .where(Conversation.status.in_(OPEN_STATUSES))
        .values(status="closed", closed_at=now)
    )
