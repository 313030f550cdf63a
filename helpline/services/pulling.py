"""The pull model: a supporter with room asks for the most urgent texter they can take."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpline.models import Conversation, Message, User
from helpline.services import assignment, programs, snapshots
from helpline.services import settings as settings_service
from routing.eligibility import why_not_eligible
from routing.policy import queue_order


@dataclass(frozen=True)
class Pulled:
    conversation: Conversation | None  # None: nobody waiting that this supporter may take
    texts: list[Message]


def has_room(session: Session, user: User) -> bool:
    """Available, active, and below their limit (urgent conversations weigh more)."""
    if not user.is_active or user.status != "available":
        return False
    weight = settings_service.routing_settings(settings_service.load(session)).urgent_weight
    load = snapshots.loads(session, weight, [user.id]).get(user.id, snapshots.Load())
    return load.weighted < user.max_conversations


def pull(session: Session, user: User, now: datetime) -> Pulled:
    """Give `user` the first waiting conversation, in queue order, that routing's own
    eligibility rules let them take; under the routing lock, so a routing pass or another
    supporter's pull cannot hand the same texter to two people."""
    values = settings_service.load(session)
    routing = settings_service.routing_settings(values)
    assignment.lock_routing(session)
    # Gather (after the lock: what another pass assigned is no longer queued)
    queued = session.scalars(select(Conversation).where(Conversation.status == "queued")).all()
    by_id = {c.id: c for c in queued}
    (me,) = snapshots.supporters(session, routing.urgent_weight, [user.id])
    # Decide
    chosen = next(
        (
            c
            for c in queue_order([snapshots.conversation(c) for c in queued])
            if why_not_eligible(me, c, now, routing) is None
        ),
        None,
    )
    if chosen is None:
        return Pulled(None, [])
    # Apply
    convo = by_id[chosen.id]
    assignment.assign(session, convo, user, now, f"pulled by {user.name}", actor_id=user.id)
    texts = programs.texts_for(values, convo.program)
    body = settings_service.render(texts, "connected", supporter_name=assignment.first_name(user))
    return Pulled(convo, assignment.send(session, convo, body, now))
