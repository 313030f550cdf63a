"""Keeping waiting texters informed: their place in line and an honest wait, every few minutes."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpline.models import Conversation, ConversationEvent, Message
from helpline.services import assignment, programs, snapshots
from helpline.services import settings as settings_service
from routing.policy import queue_order
from routing.queue import RATE_WINDOW, estimate_wait, is_update_due
from routing.schedule import anyone_on_shift


def send_updates(
    session: Session, now: datetime, values: dict[str, Any], skip: Collection[int] = ()
) -> list[Message]:
    """Text each waiting texter their place (and the wait, when we can tell) when due."""
    if not anyone_on_shift(snapshots.all_shift_rules(session), now):
        return []  # they were told when the line opens; nothing new to say overnight
    queued = {
        c.id: c
        for c in session.scalars(select(Conversation).where(Conversation.status == "queued"))
    }
    last_told = _last_texted(session, list(queued))
    served = _recent_assignments(session, now)
    interval = timedelta(seconds=int(values["queue_update_interval_s"]))
    texts: list[Message] = []
    ordered = queue_order([snapshots.conversation(c) for c in queued.values()])
    for position, waiting in enumerate(ordered, start=1):
        if waiting.id in skip or not is_update_due(last_told.get(waiting.id), now, interval):
            continue
        convo = queued[waiting.id]
        wait = estimate_wait(position, served, now)
        estimate = f" (about {int(wait.total_seconds() // 60)} minutes)" if wait else ""
        body = settings_service.render(
            programs.texts_for(values, convo.program),
            "queue_update",
            position=position,
            estimate=estimate,
        )
        texts += assignment.send(session, convo, body, now)
    return texts


def _last_texted(session: Session, conversation_ids: list[int]) -> dict[int, datetime]:
    if not conversation_ids:
        return {}
    rows = session.execute(
        select(Message.conversation_id, func.max(Message.created_at))
        .where(Message.conversation_id.in_(conversation_ids), Message.direction == "out")
        .group_by(Message.conversation_id)
    )
    return {cid: at for cid, at in rows if cid is not None}


def _recent_assignments(session: Session, now: datetime) -> list[datetime]:
    return list(
        session.scalars(
            select(ConversationEvent.created_at).where(
                ConversationEvent.kind == "assigned",
                ConversationEvent.created_at >= now - RATE_WINDOW,
            )
        )
    )
