"""Assign, transfer and close: the one home of every change to who holds a conversation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from helpline.db import is_postgresql
from helpline.models import Conversation, ConversationEvent, Message, User
from helpline.services import outbound, snapshots
from helpline.services import settings as settings_service
from routing.model import Assign, Decision
from routing.policy import plan_assignments, queue_order

# One routing pass at a time across every worker: PostgreSQL advisory lock key.
ROUTING_LOCK_KEY = 0x48454C50  # "HELP"


def route_queue(
    session: Session,
    now: datetime,
    values: dict[str, Any] | None = None,
    greet: Sequence[Conversation] = (),
) -> list[Message]:
    """Give waiting conversations to eligible supporters; return the texts this produced.

    Conversations in `greet` were just opened: their texter gets the greeting with either
    the connected or the waiting text, as one message.
    """
    values = values if values is not None else settings_service.load(session)
    _lock_routing(session)
    # Gather
    queued = session.scalars(select(Conversation).where(Conversation.status == "queued")).all()
    by_id = {c.id: c for c in queued}
    supporters = snapshots.supporters(session)
    # Decide
    decisions = plan_assignments(
        [snapshots.conversation(c) for c in queued],
        supporters,
        now,
        settings_service.routing_settings(values),
    )
    # Apply
    greeted = {c.id for c in greet}
    texts: list[Message] = []
    for decision in decisions:
        convo = by_id[decision.conversation_id]
        if isinstance(decision, Assign):
            texts.extend(_apply_assign(session, convo, decision, now, values, convo.id in greeted))
        elif convo.id in greeted:
            texts.extend(_greet_waiting(session, convo, decision, now, values))
    return texts


def _lock_routing(session: Session) -> None:
    # SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL needs a lock.
    if is_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ROUTING_LOCK_KEY})


def _apply_assign(
    session: Session,
    convo: Conversation,
    decision: Assign,
    now: datetime,
    values: dict[str, Any],
    greet: bool,
) -> list[Message]:
    supporter = session.get(User, decision.supporter_id)
    assert supporter is not None
    assign(session, convo, supporter, now, decision.reason, _detail(decision))
    body = settings_service.render(values, "connected", supporter_name=first_name(supporter))
    if greet:
        body = settings_service.render(values, "greeting") + " " + body
    return _text(session, convo, body, now)


def _greet_waiting(
    session: Session, convo: Conversation, decision: Decision, now: datetime, values: dict[str, Any]
) -> list[Message]:
    session.add(
        ConversationEvent(
            conversation_id=convo.id,
            kind="queued",
            reason=decision.reason,
            detail=_detail(decision),
            created_at=now,
        )
    )
    position = queue_position(session, convo)
    body = (
        settings_service.render(values, "greeting")
        + " "
        + settings_service.render(values, "waiting", position=position)
    )
    return _text(session, convo, body, now)


def _detail(decision: Decision) -> dict[str, Any]:
    return {"passed_over": {str(k): v for k, v in decision.passed_over.items()}}


def _text(session: Session, convo: Conversation, body: str, now: datetime) -> list[Message]:
    try:
        return [outbound.queue_text(session, convo, body, now)]
    except outbound.OptedOut:
        return []


def assign(
    session: Session,
    convo: Conversation,
    supporter: User,
    now: datetime,
    reason: str,
    detail: dict[str, Any] | None = None,
    kind: str = "assigned",
    actor_id: int | None = None,
    note: str | None = None,
) -> None:
    """Hand `convo` to `supporter` and record why."""
    convo.status = "active"
    convo.supporter_id = supporter.id
    convo.assigned_at = now
    convo.first_reply_at = None
    supporter.last_assigned_at = now
    session.add(
        ConversationEvent(
            conversation_id=convo.id,
            kind=kind,
            reason=reason,
            supporter_id=supporter.id,
            actor_id=actor_id,
            note=note,
            detail=detail,
            created_at=now,
        )
    )
    session.flush()


def queue_position(session: Session, convo: Conversation) -> int:
    """1 for the next conversation to be served, counting only those that go before it."""
    queued = session.scalars(select(Conversation).where(Conversation.status == "queued")).all()
    order = [c.id for c in queue_order([snapshots.conversation(c) for c in queued])]
    return order.index(convo.id) + 1 if convo.id in order else len(order) + 1


def close(
    session: Session,
    convo: Conversation,
    now: datetime,
    reason: str,
    actor_id: int | None = None,
    note: str | None = None,
    notify: bool = True,
) -> list[Message]:
    """Close `convo`; tell the texter unless they opted out or `notify` is False."""
    convo.status = "closed"
    convo.closed_at = now
    session.add(
        ConversationEvent(
            conversation_id=convo.id,
            kind="closed",
            reason=reason,
            note=note,
            actor_id=actor_id,
            supporter_id=convo.supporter_id,
            created_at=now,
        )
    )
    session.flush()
    if not notify:
        return []
    values = settings_service.load(session)
    return _text(session, convo, settings_service.render(values, "closed"), now)


def transfer(
    session: Session,
    convo: Conversation,
    now: datetime,
    actor: User,
    note: str | None,
    to_supporter: User | None = None,
    skill: str | None = None,
) -> list[Message]:
    """Move `convo` to a named supporter, or back to the queue for a skill pool."""
    previous = session.get(User, convo.supporter_id) if convo.supporter_id else None
    values = settings_service.load(session)
    name = first_name(previous) if previous else "Your supporter"
    texts = _text(
        session, convo, settings_service.render(values, "handed_off", supporter_name=name), now
    )
    if to_supporter is not None:
        reason = f"transferred by {actor.name} to {to_supporter.name}"
        assign(
            session,
            convo,
            to_supporter,
            now,
            reason,
            kind="transferred",
            actor_id=actor.id,
            note=note,
        )
        return texts
    if skill and skill not in convo.required_skills:
        convo.required_skills = [*convo.required_skills, skill]
    convo.status = "queued"
    convo.supporter_id = None
    # Keep the original waiting time so the texter is not sent to the back of the line.
    convo.waiting_since = convo.waiting_since or now
    session.add(
        ConversationEvent(
            conversation_id=convo.id,
            kind="transferred",
            actor_id=actor.id,
            note=note,
            reason=f"transferred by {actor.name} to the {skill or 'general'} pool",
            supporter_id=previous.id if previous else None,
            created_at=now,
        )
    )
    session.flush()
    return texts


def active_count(session: Session, supporter_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                Conversation.supporter_id == supporter_id, Conversation.status == "active"
            )
        )
        or 0
    )


def first_name(user: User) -> str:
    return user.name.split()[0] if user.name.strip() else "A supporter"


class NotOpen(Exception):
    """The conversation is closed: nothing more can be sent in it."""


def reply(session: Session, convo: Conversation, body: str, author: User, now: datetime) -> Message:
    """A supporter's text to the texter, queued to go out after commit."""
    if convo.status != "active":
        raise NotOpen(f"the conversation is {convo.status}")
    message = outbound.queue_text(session, convo, body, now, author_id=author.id)
    if convo.first_reply_at is None:
        convo.first_reply_at = now
    return message
