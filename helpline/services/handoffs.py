"""Conversations changing hands: the handoff rules on every tick, warm offers, and transfers."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpline.models import Conversation, ConversationEvent, Message, User
from helpline.services import assignment, programs, snapshots, waiting
from helpline.services import settings as settings_service
from routing.handoff import decide, plan_handoffs
from routing.model import ActiveConversation, Assign, Close, Handoff, Nudge, RoutingSettings
from routing.policy import choose_supporter
from routing.triage import CRISIS_SKILL


class NotOffered(Exception):
    """Only the supporter a conversation is offered to can accept or decline it."""


def run_handoffs(
    session: Session, now: datetime, values: dict[str, Any] | None = None
) -> list[Message]:
    """Apply every handoff, nudge and auto-close due now, route what came back to the queue,
    and tell waiting texters where they stand."""
    values = values if values is not None else settings_service.load(session)
    routing = settings_service.routing_settings(values)
    # Every held conversation is read and the rules decided before the routing lock is
    # taken: under it, that read held up every routing pass (a drain's batch among them) for
    # tens of milliseconds. Under the lock, the conversations something was due for are read
    # again and decided again as they are now (a reply or a pass may have changed them);
    # one that became due meanwhile is the next tick's. (On SQLite the transaction holds
    # the write lock from its start: the same, read twice.)
    decisions = _plan(session, snapshots.active_conversations(session), now, routing)
    assignment.lock_routing(session)
    if decisions:
        due = [decision.conversation_id for decision in decisions]
        decisions = _plan(session, snapshots.active_conversations(session, due), now, routing)
    # Apply, loading only the conversations something is due for (one closed since it was
    # read is left alone)
    by_id = _still_active(session, [decision.conversation_id for decision in decisions])
    texts: list[Message] = []
    announce: dict[int, str] = {}
    for decision in decisions:
        convo = by_id.get(decision.conversation_id)
        if convo is None:
            continue
        if isinstance(decision, Close):
            texts += assignment.close(session, convo, now, decision.reason)
        elif isinstance(decision, Nudge):
            convo.nudged_at = now
            _event(session, convo, "nudged", decision.reason, now, decision.supporter_id)
        elif not (decision.warm and _offer(session, convo, decision, now, routing)):
            hand_off(session, convo, decision, now)
            announce[convo.id] = assignment.HANDED_OFF
    texts += assignment.route_queue(session, now, values, announce)
    return texts + waiting.send_updates(session, now, values, skip=announce)


def _plan(
    session: Session, held: list[ActiveConversation], now: datetime, routing: RoutingSettings
) -> list[Handoff | Close | Nudge]:
    """The rules applied to these held conversations, with their holders as they are now."""
    holder_ids = sorted({c.supporter_id for c in held})
    holders = {s.id: s for s in snapshots.supporters(session, routing.urgent_weight, holder_ids)}
    return plan_handoffs(held, holders, now, routing)


def _still_active(session: Session, ids: list[int]) -> dict[int, Conversation]:
    if not ids:
        return {}
    query = select(Conversation).where(Conversation.id.in_(ids), Conversation.status == "active")
    return {convo.id: convo for convo in session.scalars(query)}


def hand_off(session: Session, convo: Conversation, decision: Handoff, now: datetime) -> None:
    """Back to the front of the queue; whoever let it wait is not offered it again, and a
    supporter who never answered is set away."""
    not_again = {
        "no_first_reply": decision.supporter_id,
        "quiet": decision.supporter_id,
        "offer_expired": convo.offered_to_id,
    }.get(decision.kind)
    if not_again is not None:
        convo.excluded_supporter_ids = sorted({*convo.excluded_supporter_ids, not_again})
    if decision.kind == "no_first_reply":
        supporter = session.get(User, decision.supporter_id)
        if supporter is not None and supporter.status == "available":
            supporter.status = "away"
    assignment.requeue(
        session, convo, "handed_off", decision.reason, now, detail={"rule": decision.kind}
    )


def move_if_unqualified(
    session: Session, convo: Conversation, now: datetime, values: dict[str, Any]
) -> bool:
    """An active conversation that became urgent leaves a supporter without the skill."""
    if convo.status != "active" or convo.supporter_id is None:
        return False
    routing = settings_service.routing_settings(values)
    (holder,) = snapshots.supporters(session, routing.urgent_weight, [convo.supporter_id])
    decision = decide(snapshots.active_conversation(convo), holder, now, routing)
    if not isinstance(decision, Handoff) or decision.kind != "needs_skill":
        return False
    hand_off(session, convo, decision, now)
    return True


class AlreadyEscalated(Exception):
    """The conversation is urgent and crisis-only already."""


def escalate(
    session: Session, convo: Conversation, actor: User, note: str | None, now: datetime
) -> list[Message]:
    """A supporter or coordinator judges the texter at risk: urgent and crisis-only, as if
    triage had flagged it. A crisis-trained holder keeps it; anyone else hands it on."""
    if not assignment.make_urgent(convo, now):
        raise AlreadyEscalated("the conversation is already urgent and crisis-only")
    session.add(
        ConversationEvent(
            conversation_id=convo.id,
            kind="escalated",
            reason=f"escalated to crisis by {actor.name}",
            note=note,
            actor_id=actor.id,
            supporter_id=convo.supporter_id,
            created_at=now,
        )
    )
    session.flush()
    values = settings_service.load(session)
    announce: dict[int, str] = {}
    if move_if_unqualified(session, convo, now, values):
        announce[convo.id] = assignment.HANDED_OFF
    return assignment.route_queue(session, now, values, announce)


def _offer(
    session: Session,
    convo: Conversation,
    decision: Handoff,
    now: datetime,
    routing: RoutingSettings,
) -> bool:
    """A warm handoff: offer the conversation to the next eligible supporter, who sees its
    history and notes; the current supporter keeps it until they accept."""
    wanted = replace(
        snapshots.conversation(_as_waiting(convo, now)),
        excluded_supporter_ids=frozenset({decision.supporter_id, *convo.excluded_supporter_ids}),
    )
    choice = choose_supporter(
        wanted, snapshots.supporters(session, routing.urgent_weight), now, routing
    )
    if not isinstance(choice, Assign):
        return False
    convo.offered_to_id = choice.supporter_id
    convo.offered_at = now
    _event(
        session,
        convo,
        "offered",
        f"{decision.reason}: offered to the next supporter ({choice.reason})",
        now,
        choice.supporter_id,
    )
    return True


def _as_waiting(convo: Conversation, now: datetime) -> Conversation:
    if convo.waiting_since is None:
        convo.waiting_since = now
    return convo


def accept(session: Session, convo: Conversation, user: User, now: datetime) -> list[Message]:
    """The offered supporter takes the conversation; only now does the previous one lose it.
    The texter gets one text."""
    if convo.status != "active" or convo.offered_to_id != user.id:
        raise NotOffered("this conversation is not offered to you")
    previous = session.get(User, convo.supporter_id) if convo.supporter_id else None
    reason = f"accepted the handoff from {previous.name}" if previous else "accepted a handoff"
    assignment.assign(session, convo, user, now, reason, kind="handed_off")
    values = programs.texts_for(settings_service.load(session), convo.program)
    body = (
        settings_service.render(values, assignment.HANDED_OFF)
        + " "
        + settings_service.render(values, "connected", supporter_name=assignment.first_name(user))
    )
    return assignment.send(session, convo, body, now)


def decline(session: Session, convo: Conversation, user: User, now: datetime) -> None:
    """The offered supporter says no: the offer ends, and the next tick finds someone else."""
    if convo.status != "active" or convo.offered_to_id != user.id:
        raise NotOffered("this conversation is not offered to you")
    convo.offered_to_id = convo.offered_at = None
    convo.excluded_supporter_ids = sorted({*convo.excluded_supporter_ids, user.id})
    _event(session, convo, "offer_declined", f"{user.name} declined the handoff", now, user.id)


def _event(
    session: Session,
    convo: Conversation,
    kind: str,
    reason: str,
    now: datetime,
    supporter_id: int | None,
) -> None:
    session.add(
        ConversationEvent(
            conversation_id=convo.id,
            kind=kind,
            reason=reason,
            supporter_id=supporter_id,
            created_at=now,
        )
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
    if skill == CRISIS_SKILL and convo.priority != "urgent":
        convo.priority = "urgent"  # escalating to crisis-trained supporters is urgent
        convo.urgent_since = now
    if convo.supporter_id is not None:
        # Handed to the pool means to someone else: never straight back to who passed it on.
        convo.excluded_supporter_ids = sorted({*convo.excluded_supporter_ids, convo.supporter_id})
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
