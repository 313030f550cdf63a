"""Nothing kept longer than needed: closed conversations purged after the retention period,
and the leftovers of erasures and stray texts soon after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.orm import Session

from helpline.models import Conversation, ConversationEvent, Message, Texter
from helpline.services import audit

ERASED = "erased"  # the texter_key of an erased texter's tombstoned inbound texts
# Tombstones outlive Twilio's retries and the inbound reconciliation window (an hour).
TOMBSTONE_KEPT = timedelta(days=2)
# Texts outside any conversation (an erasure's goodbye) once they have surely gone out.
STRAY_OUTBOUND_KEPT = timedelta(days=1)
BATCH = 200


@dataclass
class Purged:
    conversations: int = 0
    messages: int = 0
    texters: int = 0

    @property
    def more(self) -> bool:
        """A full batch of conversations: there may be more to purge right away."""
        return self.conversations >= BATCH


def purge(session: Session, now: datetime, retention_s: int) -> Purged:
    """One batch: conversations closed more than `retention_s` ago (0 keeps them), with their
    texts and events, then texters left with nothing, tombstones and stray texts."""
    purged = Purged()
    if retention_s > 0:
        cutoff = now - timedelta(seconds=retention_s)
        ids = list(
            session.scalars(
                select(Conversation.id)
                .where(Conversation.status == "closed", Conversation.closed_at < cutoff)
                .order_by(Conversation.id)
                .limit(BATCH)
            )
        )
        for conversation_id in ids:
            audit.record(session, audit.PURGED, now, conversation_id=conversation_id)
        if ids:
            purged.messages += _deleted(
                session, delete(Message).where(Message.conversation_id.in_(ids))
            )
            session.execute(
                delete(ConversationEvent).where(ConversationEvent.conversation_id.in_(ids))
            )
            session.execute(delete(Conversation).where(Conversation.id.in_(ids)))
        purged.conversations = len(ids)
        # Texts that never joined a conversation (STOP, texts while opted out).
        purged.messages += _deleted(
            session,
            delete(Message).where(
                Message.conversation_id.is_(None),
                Message.processed_at.is_not(None),
                Message.created_at < cutoff,
            ),
        )
        purged.texters = _deleted(
            session,
            delete(Texter).where(
                Texter.opted_out.is_(False),  # kept: their opt-out must outlive everything
                or_(Texter.blocked_at.is_(None), Texter.blocked_until < now),  # kept while blocked
                ~exists().where(Conversation.texter_id == Texter.id),
                ~exists().where(Message.texter_key == Texter.address_key),
            ),
        )
    purged.messages += _deleted(
        session,
        delete(Message).where(
            Message.texter_key == ERASED, Message.created_at < now - TOMBSTONE_KEPT
        ),
    )
    purged.messages += _deleted(
        session,
        delete(Message).where(
            Message.conversation_id.is_(None),
            Message.direction == "out",
            Message.delivery_status != "pending",
            Message.created_at < now - STRAY_OUTBOUND_KEPT,
        ),
    )
    return purged


def _deleted(session: Session, statement: object) -> int:
    return int(session.execute(statement).rowcount or 0)  # type: ignore[call-overload]
