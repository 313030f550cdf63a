"""The flood policy applied: count what a texter did recently, let `routing.flood` decide."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from helpline.models import Conversation, ConversationEvent, Message, Texter
from helpline.services import settings as settings_service
from routing.flood import flood_level, is_text_flood

# Counted for texts as they come, built once (as a send's statements, services.outbound).
_OPENINGS = (
    select(func.count())
    .select_from(ConversationEvent)
    .join(Conversation, Conversation.id == ConversationEvent.conversation_id)
    .where(
        Conversation.texter_id == bindparam("texter_id"),
        ConversationEvent.kind.in_(("opened", "reopened")),
        ConversationEvent.created_at >= bindparam("since"),
    )
)
_RECENT = (
    select(func.count())
    .select_from(Message)
    .where(
        Message.texter_key == bindparam("key"),
        Message.direction == "in",
        Message.created_at >= bindparam("since"),
    )
)


def apply_opening_policy(
    session: Session,
    texter: Texter,
    convo: Conversation,
    now: datetime,
    values: dict[str, Any],
    openings: int | None = None,
) -> None:
    """A texter opening conversation after conversation is flagged, then limited. `openings`:
    how many they opened within the policy's window, when the caller knows (counted if not)."""
    policy = settings_service.flood_policy(values)
    if openings is None:
        since = now - timedelta(seconds=policy.window_s)
        openings = session.scalar(_OPENINGS, {"texter_id": texter.id, "since": since}) or 0
    level = flood_level(openings, policy)
    if level == "limited" and not convo.limited:
        convo.flagged = convo.limited = True
        _event(
            session,
            convo,
            now,
            f"{openings} conversations in {policy.window_s // 60} "
            "minutes: limited (served after other texters)",
        )
    elif level == "flagged" and not convo.flagged:
        convo.flagged = True
        _event(
            session,
            convo,
            now,
            f"{openings} conversations in {policy.window_s // 60} "
            "minutes: flagged for coordinators",
        )


def is_flooding(
    session: Session, texter: Texter, convo: Conversation, now: datetime, values: dict[str, Any]
) -> bool:
    """More texts in the last minute than the policy allows: flag once and say so."""
    policy = settings_service.flood_policy(values)
    since = now - timedelta(minutes=1)
    recent = session.scalar(_RECENT, {"key": texter.address_key, "since": since}) or 0
    if not is_text_flood(recent, policy):
        return False
    if not convo.flagged:
        convo.flagged = True
        _event(session, convo, now, f"{recent} texts in a minute: flagged for coordinators")
    return True


def _event(session: Session, convo: Conversation, now: datetime, reason: str) -> None:
    session.add(
        ConversationEvent(conversation=convo, kind="flagged", reason=reason, created_at=now)
    )
