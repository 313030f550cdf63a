"""The one place that turns rows into routing's plain dataclasses."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpline import models
from routing import model


def active_counts(session: Session, supporter_ids: Sequence[int] | None = None) -> dict[int, int]:
    """How many active conversations each supporter holds right now."""
    query = (
        select(models.Conversation.supporter_id, func.count())
        .where(models.Conversation.status == "active")
        .group_by(models.Conversation.supporter_id)
    )
    if supporter_ids is not None:
        query = query.where(models.Conversation.supporter_id.in_(supporter_ids))
    return {sid: count for sid, count in session.execute(query) if sid is not None}


def shift_rules(shifts: Sequence[models.Shift]) -> tuple[model.ShiftRule, ...]:
    return tuple(model.ShiftRule(s.starts_at, s.ends_at, s.rrule, s.timezone) for s in shifts)


def supporters(session: Session) -> list[model.Supporter]:
    """Every active user who could take a conversation (available ones only)."""
    users = session.scalars(
        select(models.User).where(models.User.is_active, models.User.status == "available")
    ).all()
    ids = [u.id for u in users]
    shifts: dict[int, list[models.Shift]] = defaultdict(list)
    if ids:
        for shift in session.scalars(
            select(models.Shift).where(models.Shift.supporter_id.in_(ids))
        ):
            shifts[shift.supporter_id].append(shift)
    counts = active_counts(session, ids)
    return [supporter(u, counts.get(u.id, 0), shifts[u.id]) for u in users]


def supporter(user: models.User, active: int, shifts: Sequence[models.Shift]) -> model.Supporter:
    return model.Supporter(
        id=user.id,
        name=user.name,
        status=user.status,
        skills=frozenset(user.skills or ()),
        max_conversations=user.max_conversations,
        active_conversations=active,
        shifts=shift_rules(shifts),
        last_assigned_at=user.last_assigned_at,
    )


def conversation(row: models.Conversation) -> model.Conversation:
    assert row.waiting_since is not None, "a queued conversation always has waiting_since"
    return model.Conversation(
        id=row.id,
        priority=row.priority,
        waiting_since=row.waiting_since,
        required_skills=frozenset(row.required_skills or ()),
    )
