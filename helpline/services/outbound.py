"""Texts to texters: queued as rows, claimed by one sender, and their delivery tracked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
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
    # Who held its conversation (supporter, offered to) when it was claimed: they hear what
    # Twilio answered. None when not read with it.
    holders: tuple[int | None, int | None] | None = None


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


def made(messages: list[Message]) -> list[OutboundText]:
    """Texts just written (flushed: they have ids), as their sender will claim them."""
    return [_text(m) for m in messages]


def _text(message: Message) -> OutboundText:
    return OutboundText(
        message.id, message.to_address, message.from_address, message.body, message.conversation_id
    )


# The statements a send runs, built once: building one and working out its cache key cost
# about a third of a millisecond each time, as much as running it (docs/decisions.md,
# "Performance"). Their lists of ids are expanding parameters.
_UNCLAIMED = (
    Message.direction == "out",
    Message.delivery_status == "pending",
    Message.sid.is_(None),
    Message.send_claimed_at.is_(None),
)
_IDS = bindparam("ids", expanding=True)
_UNSENT = select(Message.id, Message.to_address, Message.from_address, Message.body).where(
    Message.id.in_(_IDS), *_UNCLAIMED
)


def unsent(session: Session, message_ids: list[int]) -> list[OutboundText]:
    """Of these texts, those no sender has claimed yet (to pace them before claiming), in the
    order given."""
    rows = session.connection().execute(_UNSENT, {"ids": message_ids})
    found = {row.id: OutboundText(*row) for row in rows}
    return [found[i] for i in message_ids if i in found]


def _of_conversation(column: Any) -> Any:
    return select(column).where(Conversation.id == Message.conversation_id).scalar_subquery()


# The claim returns each text, who holds its conversation, and whether its texter has opted
# out since it was written.
_CLAIM = (
    update(Message)
    .where(Message.id.in_(_IDS), *_UNCLAIMED)
    .values(send_claimed_at=bindparam("now"))
    .returning(
        Message.id,
        Message.to_address,
        Message.from_address,
        Message.body,
        Message.conversation_id,
        _of_conversation(Conversation.supporter_id),
        _of_conversation(Conversation.offered_to_id),
        select(Texter.opted_out).where(Texter.address_key == Message.texter_key).scalar_subquery(),
    )
    .execution_options(synchronize_session=False)
)
_CANCEL = (
    update(Message)
    .where(Message.id.in_(_IDS))
    .values(delivery_status="canceled", error_code=21610)
    .execution_options(synchronize_session=False)
)
_RELEASE = (
    update(Message)
    .where(Message.id.in_(_IDS))
    .values(send_claimed_at=None)
    .execution_options(synchronize_session=False)
)
_RECORD = (
    update(Message)
    .where(Message.id == bindparam("message_id"))
    .values(sid=bindparam("new_sid"), delivery_status=bindparam("new_status"))
)


def claim_sends(session: Session, message_ids: list[int], now: datetime) -> list[OutboundText]:
    """Claim pending texts for sending, in the order given; those sent, refused or claimed
    already are left out.

    One statement in the usual case: the claim returns each text, who holds its conversation,
    and whether its texter has opted out since it was written (such a text is cancelled
    instead, and its holder told)."""
    if not message_ids:
        return []
    # On the connection: the ORM's bulk update would build the statement again each time.
    rows = session.connection().execute(_CLAIM, {"ids": message_ids, "now": now}).all()
    texts = [(OutboundText(*row[:5], holders=(row[5], row[6])), row[7]) for row in rows]
    claimed = {text.message_id: text for text, opted_out in texts if not opted_out}
    cancelled = [text for text, opted_out in texts if opted_out]
    if cancelled:
        session.connection().execute(_CANCEL, {"ids": [text.message_id for text in cancelled]})
        for text in cancelled:
            if text.conversation_id is not None:  # its holder sees it will not go
                notices.touched(session, text.conversation_id)
    return [claimed[i] for i in message_ids if i in claimed]


def claimed(session: Session, message_id: int) -> tuple[OutboundText, datetime] | None:
    """A text claimed for sending whose outcome is not known (no sid), and when it was claimed."""
    message = session.get(Message, message_id)
    if message is None or message.sid is not None or message.send_claimed_at is None:
        return None
    if message.delivery_status != "pending":
        return None
    return _text(message), message.send_claimed_at


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


def release_claims(session: Session, message_ids: list[int]) -> None:
    """Sends that failed for a passing reason, or were never tried: let the next attempt
    claim them."""
    if message_ids:
        session.connection().execute(_RELEASE, {"ids": message_ids})


def record_outcomes(session: Session, outcomes: list[tuple[OutboundText, Sent | Refused]]) -> None:
    """Keep what Twilio answered for each text: the sids and statuses in one statement, and a
    live notice to each conversation's holders (read with the claim, or else in one more
    statement); or why it was refused."""
    sent = [(text, result) for text, result in outcomes if isinstance(result, Sent)]
    for text, result in outcomes:
        if isinstance(result, Refused):
            record_refused(session, text.message_id, result.error_code)
    if not sent:
        return
    connection = session.connection()  # many rows' parameters: executemany, no ORM needed
    connection.execute(
        _RECORD,
        [{"message_id": t.message_id, "new_sid": r.sid, "new_status": r.status} for t, r in sent],
    )
    conversation_ids = set()
    for text, _ in sent:
        if text.conversation_id is not None and text.holders is not None:
            notices.told(session, text.conversation_id, text.holders)
        elif text.conversation_id is not None:
            conversation_ids.add(text.conversation_id)
    if conversation_ids:
        for row in connection.execute(
            select(Conversation.id, Conversation.supporter_id, Conversation.offered_to_id).where(
                Conversation.id.in_(conversation_ids)
            )
        ):
            notices.told(session, row.id, (row.supporter_id, row.offered_to_id))


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
