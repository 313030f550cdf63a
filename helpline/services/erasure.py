"""A texter's right to be forgotten: DELETE, confirmed by a second DELETE, erases everything
they sent and received, their number, and the conversations around them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from helpline.models import Conversation, ConversationEvent, Message, Texter
from helpline.services import assignment, audit, blocking, outbound, programs, retention
from helpline.services import settings as settings_service

CONFIRM_WITHIN = timedelta(minutes=15)


@dataclass
class Erasure:
    texts: list[Message] = field(default_factory=list)
    erased: bool = False  # the texter and all their rows are gone


def receive(
    session: Session,
    texter: Texter,
    message: Message,
    convo: Conversation | None,
    now: datetime,
    values: dict[str, Any],
) -> Erasure:
    """A DELETE from `texter`: ask for confirmation, or erase when this one confirms."""
    message.processed_at = now
    requested = texter.erase_requested_at
    if requested is not None and now - requested <= CONFIRM_WITHIN:
        helpline_number = message.to_address
        erase(session, texter, now)
        done = settings_service.render(values, "erased")
        # The goodbye text is the texter's last row here; the purge removes it once sent.
        return Erasure([_text(session, texter, helpline_number, done, now)], erased=True)
    texter.erase_requested_at = now
    if convo is not None and convo.id is None:
        session.flush()  # opened earlier in this batch, not written yet: the texts need its id
    message.conversation_id = convo.id if convo else None
    texts = programs.texts_for(values, convo.program) if convo else values
    ask = settings_service.render(texts, "erase_confirm")
    return Erasure([_text(session, texter, message.to_address, ask, now, convo)])


def erase(session: Session, texter: Texter, now: datetime) -> None:
    """Delete the texter, their conversations, events and texts; write one audit entry."""
    convo_ids = list(
        session.scalars(select(Conversation.id).where(Conversation.texter_id == texter.id))
    )
    for convo in session.scalars(
        select(Conversation).where(Conversation.id.in_(convo_ids), Conversation.status != "closed")
    ):
        # Closed first, so the supporter's count and the queue are right, then deleted.
        assignment.close(session, convo, now, reason="texter asked to be erased", notify=False)
    theirs = Message.texter_key == texter.address_key
    message_count = session.scalar(select(func.count()).select_from(Message).where(theirs))
    # Inbound texts stay as empty tombstones for a while, keeping only their MessageSid:
    # otherwise a Twilio retry or the inbound reconciliation would bring them back.
    session.execute(
        update(Message)
        .where(theirs, Message.direction == "in")
        .values(
            body="",
            from_address="",
            to_address="",
            num_media=0,
            conversation_id=None,
            texter_key=retention.ERASED,
            processed_at=now,
        )
    )
    session.execute(delete(Message).where(theirs))
    if convo_ids:
        session.execute(
            delete(ConversationEvent).where(ConversationEvent.conversation_id.in_(convo_ids))
        )
        session.execute(delete(Conversation).where(Conversation.id.in_(convo_ids)))
    audit.record(
        session,
        audit.ERASED,
        now,
        detail={"texter_id": texter.id, "conversations": convo_ids, "messages": message_count},
    )
    if blocking.is_blocked(texter, now):
        texter.erase_requested_at = None  # their texts go; the block, and so the row, stays
    else:
        session.delete(texter)  # the number lives on only in the goodbye text, then not at all
    session.flush()


def _text(
    session: Session,
    texter: Texter,
    helpline_number: str,
    body: str,
    now: datetime,
    convo: Conversation | None = None,
) -> Message:
    if convo is not None:
        return outbound.queue_text(session, convo, body, now)
    return outbound.queue_text_to(session, texter, helpline_number, body, now)
