"""Conversations changing hands: the handoff rules on every tick, and manual transfers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpline.models import Conversation, Message, User
from helpline.services import assignment, programs, snapshots, waiting
from helpline.services import settings as settings_service
from routing.handoff import plan_handoffs
from routing.model import Close, Handoff


def run_handoffs(
    session: Session, now: datetime, values: dict[str, Any] | None = None
) -> list[Message]:
    """Apply every handoff and auto-close due now, route what came back to the queue, and
    tell waiting texters where they stand."""
    values = values if values is not None else settings_service.load(session)
    routing = settings_service.routing_settings(values)
    assignment.lock_routing(session)
    # Gather
    active = session.scalars(select(Conversation).where(Conversation.status == "active")).all()
    by_id = {c.id: c for c in active}
    holder_ids = sorted({c.supporter_id for c in active if c.supporter_id is not None})
    holders = {s.id: s for s in snapshots.supporters(session, routing.urgent_weight, holder_ids)}
    # Decide
    decisions = plan_handoffs(
        [snapshots.active_conversation(c) for c in active if c.supporter_id is not None],
        holders,
        now,
        routing,
    )
    # Apply
    texts: list[Message] = []
    announce: dict[int, str] = {}
    for decision in decisions:
        convo = by_id[decision.conversation_id]
        if isinstance(decision, Close):
            texts += assignment.close(session, convo, now, decision.reason)
        else:
            hand_off(session, convo, decision, now)
            announce[convo.id] = assignment.HANDED_OFF
    texts += assignment.route_queue(session, now, values, announce)
    return texts + waiting.send_updates(session, now, values, skip=announce)


def hand_off(session: Session, convo: Conversation, decision: Handoff, now: datetime) -> None:
    """Back to the front of the queue; a supporter who did not answer is set away."""
    if decision.kind == "no_first_reply":
        convo.excluded_supporter_ids = sorted(
            {*convo.excluded_supporter_ids, decision.supporter_id}
        )
        supporter = session.get(User, decision.supporter_id)
        if supporter is not None and supporter.status == "available":
            supporter.status = "away"
    assignment.requeue(
        session, convo, "handed_off", decision.reason, now, detail={"rule": decision.kind}
    )


def transfer(
    session: Session,
    convo: Conversation,
    now: datetime,
    actor: User,
    note: str | None,
    to_supporter: User | None = None,
    skill: str | None = None,
) -> list[Message]:
    """Move `convo` to a named supporter, or back to the queue for a skill pool; the texter
    gets one text either way."""
    values = programs.texts_for(settings_service.load(session), convo.program)
    if to_supporter is not None:
        reason = f"transferred by {actor.name} to {to_supporter.name}"
        assignment.assign(
            session,
            convo,
            to_supporter,
            now,
            reason,
            kind="transferred",
            actor_id=actor.id,
            note=note,
        )
        body = (
            settings_service.render(values, assignment.HANDED_OFF)
            + " "
            + settings_service.render(
                values, "connected", supporter_name=assignment.first_name(to_supporter)
            )
        )
        return assignment.send(session, convo, body, now)
    if skill and skill not in convo.required_skills:
        convo.required_skills = [*convo.required_skills, skill]
    assignment.requeue(
        session,
        convo,
        "transferred",
        f"transferred by {actor.name} to the {skill or 'general'} pool",
        now,
        actor_id=actor.id,
        note=note,
    )
    return assignment.route_queue(session, now, values, {convo.id: assignment.HANDED_OFF})
