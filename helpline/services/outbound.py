"""Texts to texters: queued as rows, claimed by one sender, and their delivery tracked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from helpline.live import notices
from helpline.models import Conversation, Message, Texter

# Twilio's MessageStatus values in the order a message moves through them: a callback never
# moves a message backwards (callbacks can arrive out of order).
STATUS_RANK = {
    "pending": 0,
    "accepted": 1,
    "scheduled": 1,
    "queued": 2,
    "sending": 3,
    "sent": 4,
    "failed": 5,
    "undelivered": 5,
    "delivered": 6,
    "read": 7,
    "canceled": 5,
}


class OptedOut(Exception):
    """The texter has opted out: nothing may be sent to them."""


@dataclass(frozen=True)
class OutboundText:
    message_id: int
    to: str
    from_: str
    body: str
    conversation_id: int | None = None


@dataclass(frozen=True)
class Sent:
    """Twilio took the text: its sid and first status ("recorded" when nothing leaves)."""

    sid: str
    status: str


@dataclass(frozen=True)
class Refused:
    """Twilio refused the text for good (opted out, invalid number)."""

    error_code: int | None
    reason: str


def queue_text(
    session: Session,
    convo: Conversation,
    body: str,
    now: datetime,
    author_id: int | None = None,
    flush: bool = True,
) -> Message:
    """Write a pending text to the texter; the caller sends it after commit."""
    texter = session.get(Texter, convo.texter_id)
    assert texter is not None
    return queue_text_to(
        session, texter, convo.helpline_number, body, now, convo.id, author_id, flush
    )


def queue_text_to(
    session: Session,
    texter: Texter,
    helpline_number: str,
    body: str,
    now: datetime,
    conversation_id: int | None = None,
    author_id: int | None = None,
    flush: bool = True,
) -> Message:
    """A pending text to `texter` from `helpline_number`, in a conversation or outside one;
    without `flush` it has no id until the caller flushes."""
    if texter.opted_out:
        raise OptedOut(f"texter {texter.id} has opted out")
    message = Message(
        conversation_id=conversation_id,
        direction="out",
        body=body,
        from_address=helpline_number,
        to_address=texter.address,
        texter_key=texter.address_key,
        author_id=author_id,
        delivery_status="pending",
        created_at=now,
    )
    session.add(message)
    if flush:
        session.flush()
    return message


def unsent(session: Session, message_ids: list[int]) -> list[OutboundText]:
    """Of these texts, those no sender has claimed yet (to pace them before claiming), in the
    order given."""
    rows = session.execute(
        select(Message.id, Message.to_address, Message.from_address, Message.body).where(
            Message.id.in_(message_ids),
            Message.direction == "out",
            Message.delivery_status == "pending",
            Message.sid.is_(None),
            Message.send_claimed_at.is_(None),
        )
    )
    found = {row.id: OutboundText(*row) for row in rows}
    return [found[i] for i in message_ids if i in found]


def claim_send(session: Session, message_id: int, now: datetime) -> OutboundText | None:
    """Claim a pending text for sending; None when it was sent, refused or claimed already.

    One statement in the usual case: the claim returns the text and whether its texter has
    opted out since it was written (then it is cancelled instead, and its holder told)."""
    opted_out = (
        select(Texter.opted_out).where(Texter.address_key == Message.texter_key).scalar_subquery()
    )
    claimed = session.execute(
        update(Message)
        .where(
            Message.id == message_id,
            Message.direction == "out",
            Message.delivery_status == "pending",
            Message.sid.is_(None),
            Message.send_claimed_at.is_(None),
        )
        .values(send_claimed_at=now)
        .returning(
            Message.to_address,
            Message.from_address,
            Message.body,
            Message.conversation_id,
            opted_out,
        )
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if claimed is None:
        return None
    to, from_, body, conversation_id, is_opted_out = claimed
    if is_opted_out:
        session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(delivery_status="canceled", error_code=21610)
            .execution_options(synchronize_session=False)
        )
        if conversation_id is not None:  # its holder sees it will not go
            notices.touched(session, conversation_id)
        return None
    return OutboundText(message_id, to, from_, body, conversation_id)


def claimed(session: Session, message_id: int) -> tuple[OutboundText, datetime] | None:
    """A text claimed for sending whose outcome is not known (no sid), and when it was claimed."""
    message = session.get(Message, message_id)
    if message is None or message.sid is not None or message.send_claimed_at is None:
        return None
    if message.delivery_status != "pending":
        return None
    text = OutboundText(
        message.id, message.to_address, message.from_address, message.body, message.conversation_id
    )
    return text, message.send_claimed_at


def unresolved(session: Session, claimed_before: datetime, limit: int = 500) -> list[int]:
    """Texts claimed for sending long ago with no outcome: a worker died mid-send."""
    return list(
        session.scalars(
            select(Message.id)
            .where(
                Message.direction == "out",
                Message.delivery_status == "pending",
                Message.sid.is_(None),
                Message.send_claimed_at < claimed_before,
            )
            .order_by(Message.id)
            .limit(limit)
        )
    )


def recorded_sids(session: Session, sids: list[str]) -> set[str]:
    """Those of `sids` that a text already holds: Twilio's message for another text."""
    if not sids:
        return set()
    return set(session.scalars(select(Message.sid).where(Message.sid.in_(sids))).all())


def release_claim(session: Session, message_id: int) -> None:
    """A send failed for a passing reason, or was never tried: let the next attempt claim it."""
    session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(send_claimed_at=None)
        .execution_options(synchronize_session=False)
    )


# Who holds an outbound text's conversation, read as its outcome is written: they are told.
_HOLDERS = [
    select(column).where(Conversation.id == Message.conversation_id).scalar_subquery()
    for column in (Conversation.supporter_id, Conversation.offered_to_id)
]


def record_outcome(session: Session, text: OutboundText, result: Sent | Refused) -> None:
    """Keep what Twilio answered for the text: its sid and status in one statement, and a live
    notice to its conversation's holder; or why it was refused."""
    if isinstance(result, Refused):
        record_refused(session, text.message_id, result.error_code)
        return
    holders = session.execute(
        update(Message)
        .where(Message.id == text.message_id)
        .values(sid=result.sid, delivery_status=result.status)
        .returning(*_HOLDERS)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if text.conversation_id is not None and holders is not None:
        notices.told(session, text.conversation_id, holders)


def record_refused(session: Session, message_id: int, error_code: int | None) -> None:
    """Twilio refused the text for good (opted out, invalid number): keep the reason."""
    message = session.get(Message, message_id)
    assert message is not None
    message.delivery_status = "failed"
    message.error_code = error_code


def apply_status_callback(session: Session, sid: str, status: str, error_code: int | None) -> bool:
    """Move an outbound text's delivery status forward; False when the sid is unknown."""
    message = session.scalar(select(Message).where(Message.sid == sid, Message.direction == "out"))
    if message is None:
        return False
    if STATUS_RANK.get(status, 0) >= STATUS_RANK.get(message.delivery_status, 0):
        message.delivery_status = status
        if error_code is not None:
            message.error_code = error_code
    return True
