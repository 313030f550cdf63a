"""Coordinators block a texter who abuses the line: their texts are kept but open nothing and
get no answer, for a while or until unblocked. Every block and unblock is audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpline import vault
from helpline.db import insert_ignoring_conflicts, is_postgresql
from helpline.models import OPEN_STATUSES, Conversation, Texter, User
from helpline.services import assignment, audit
from helpline.services.texters import is_blocked


def texter_for_number(session: Session, number: str, now: datetime) -> Texter:
    """The texter with this number, made if they have never texted (blocked in advance)."""
    key = vault.index(number)
    session.execute(
        insert_ignoring_conflicts(is_postgresql(session), Texter.__table__, ["address_key"]).values(
            address=number, address_key=key, opted_out=False, created_at=now
        )
    )
    texter = session.scalar(select(Texter).where(Texter.address_key == key))
    assert texter is not None
    return texter


def block(
    session: Session,
    texter: Texter,
    reason: str,
    until: datetime | None,
    actor: User,
    now: datetime,
) -> None:
    """Block `texter`; their open conversation is closed without a text to them."""
    texter.blocked_at = now
    texter.blocked_until = until
    texter.blocked_reason = reason
    texter.blocked_by_id = actor.id
    for convo in session.scalars(
        select(Conversation).where(
            Conversation.texter_id == texter.id, Conversation.status.in_(OPEN_STATUSES)
        )
    ):
        assignment.close(
            session, convo, now, f"texter blocked by {actor.name}", actor.id, reason, notify=False
        )
    audit.record(
        session,
        audit.BLOCKED,
        now,
        detail={"texter_id": texter.id, "until": until.isoformat() if until else None},
        actor_id=actor.id,
    )
    session.flush()


def unblock(session: Session, texter: Texter, actor: User, now: datetime) -> None:
    texter.blocked_at = texter.blocked_until = texter.blocked_reason = None
    texter.blocked_by_id = None
    audit.record(
        session,
        audit.UNBLOCKED,
        now,
        detail={"texter_id": texter.id},
        actor_id=actor.id,
    )
    session.flush()


def blocked(session: Session, now: datetime) -> list[Texter]:
    """Texters blocked now, most recent first."""
    rows = session.scalars(
        select(Texter).where(Texter.blocked_at.is_not(None)).order_by(Texter.blocked_at.desc())
    )
    return [t for t in rows if is_blocked(t, now)]
