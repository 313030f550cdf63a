"""The coordinator's live board: the queue in serving order, everyone's standing, the light."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpline.models import Conversation, User
from helpline.services import settings as settings_service
from helpline.services import snapshots
from routing.board import Health, Standing, health, standing
from routing.policy import queue_order

_STATE_ORDER = {"available": 0, "at limit": 1, "away": 2, "off shift": 3, "offline": 4}


@dataclass(frozen=True)
class Board:
    queue: list[Conversation]  # in the order they will be served
    active: list[Conversation]
    people: list[tuple[User, Standing]]
    health: Health


def live_board(session: Session, now: datetime) -> Board:
    """Gather the queue, active conversations and active users; routing judges them."""
    weight = int(settings_service.load(session)["urgent_weight"])
    queued = {
        c.id: c
        for c in session.scalars(select(Conversation).where(Conversation.status == "queued"))
    }
    ordered = queue_order([snapshots.conversation(c) for c in queued.values()])
    users = {u.id: u for u in session.scalars(select(User).where(User.is_active))}
    standings = [standing(s, now) for s in snapshots.supporters(session, weight, ids=list(users))]
    people = sorted(
        ((users[s.supporter.id], s) for s in standings),
        key=lambda p: (_STATE_ORDER.get(p[1].state, 5), p[0].name.lower(), p[0].id),
    )
    active = session.scalars(
        select(Conversation)
        .where(Conversation.status == "active")
        .order_by(Conversation.assigned_at, Conversation.id)
    ).all()
    return Board(
        queue=[queued[c.id] for c in ordered],
        active=list(active),
        people=people,
        health=health(ordered, standings, now),
    )


def reassign_choices(session: Session) -> list[User]:
    """Everyone a coordinator may hand a conversation to: active users, by name."""
    return list(session.scalars(select(User).where(User.is_active).order_by(User.name, User.id)))


def roster(session: Session) -> list[tuple[User, int]]:
    """Everyone, active first then by name, with how many conversations each holds."""
    counts = snapshots.active_counts(session)
    people = session.scalars(select(User).order_by(User.is_active.desc(), User.name, User.id))
    return [(u, counts.get(u.id, 0)) for u in people]
