"""What a supporter's inbox shows: their conversations, and a thread with its history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from helpline.models import Conversation, ConversationEvent, Message, User


@dataclass(frozen=True)
class Row:
    conversation: Conversation
    last_text: Message | None
    waiting_on_me: bool  # the texter wrote last
    unread: int = 0  # texts from the texter since the holder last had the thread open
    waiting_since: datetime | None = None  # the texter's first text since the last reply


@dataclass(frozen=True)
class Entry:
    """One line of a thread: a text or an event, in time order."""

    at: datetime
    message: Message | None = None
    event: ConversationEvent | None = None


def my_conversations(session: Session, user: User) -> list[Row]:
    """The user's active conversations: urgent first, then the longest-waiting texter."""
    convos = session.scalars(
        select(Conversation).where(
            Conversation.supporter_id == user.id, Conversation.status == "active"
        )
    ).all()
    rows = [_row(convo) for convo in convos]
    return sorted(
        rows,
        key=lambda r: (
            r.conversation.priority != "urgent",
            not r.waiting_on_me,
            r.waiting_since or r.conversation.last_inbound_at or r.conversation.created_at,
        ),
    )


def _row(convo: Conversation) -> Row:
    last = _last_said(convo)
    seen = convo.seen_message_id or 0
    unread = sum(1 for m in convo.messages if m.direction == "in" and m.id > seen)
    return Row(convo, last, bool(last and last.direction == "in"), unread, _waiting_since(convo))


def _waiting_since(convo: Conversation) -> datetime | None:
    """When the texter started waiting for a person's reply: their first text after the
    last one a supporter wrote; None when a supporter spoke last."""
    since = None
    for message in convo.messages:
        if message.direction == "in":
            since = since or message.created_at
        elif message.author_id is not None:
            since = None
    return since


def newest_unseen(convo: Conversation, user: User) -> int | None:
    """The newest text's id when `user` holds `convo` and has not had it on screen yet."""
    if convo.supporter_id != user.id or not convo.messages:
        return None
    newest = max(m.id for m in convo.messages)
    return None if convo.seen_message_id == newest else newest


def mark_seen(session: Session, conversation_id: int, user_id: int, message_id: int) -> None:
    """The holder has had texts up to `message_id` on screen (only while they hold it)."""
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.supporter_id == user_id)
        .values(seen_message_id=message_id)
    )


def _last_said(convo: Conversation) -> Message | None:
    """The last text between the texter and a person: the greeting and other automatic texts
    neither show as the last text nor hide that the texter is waiting for a reply."""
    said = [m for m in convo.messages if m.direction == "in" or m.author_id is not None]
    return said[-1] if said else None


def visible_to(session: Session, user: User, conversation_id: int) -> Conversation | None:
    """The conversation if `user` may open it: a coordinator, or the supporter holding it."""
    convo = session.get(Conversation, conversation_id)
    if convo is None:
        return None
    if user.role == "coordinator" or user.id in (convo.supporter_id, convo.offered_to_id):
        return convo
    return None


def offered_to(session: Session, user: User) -> list[Conversation]:
    """Warm handoffs waiting for `user` to accept them, oldest offer first."""
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.offered_to_id == user.id, Conversation.status == "active")
            .order_by(Conversation.offered_at)
        )
    )


def thread(convo: Conversation) -> list[Entry]:
    entries = [Entry(m.created_at, message=m) for m in convo.messages]
    entries += [Entry(e.created_at, event=e) for e in convo.events]
    return sorted(entries, key=lambda e: e.at)


@dataclass(frozen=True)
class TransferChoices:
    people: list[User]
    skills: list[str]


def transfer_choices(session: Session, user: User) -> TransferChoices:
    """Who `user` can transfer a conversation to: active colleagues by name, and the skill
    pools someone on the roster holds."""
    people = session.scalars(
        select(User).where(User.is_active.is_(True), User.id != user.id).order_by(User.name)
    ).all()
    skills = sorted({skill for person in people for skill in person.skills} | set(user.skills))
    return TransferChoices(list(people), skills)


EARLIER_SHOWN = 3  # the texter's most recent closed conversations shown under a thread
_NOTE_KINDS = ("transferred", "handed_off", "offered", "assigned", "note", "escalated")


def handoff_note(convo: Conversation, reader: User) -> ConversationEvent | None:
    """The newest note left on the conversation by someone else when it changed hands (or
    as a staff note): shown first to whoever holds it now."""
    for event in reversed(convo.events):
        if event.kind in _NOTE_KINDS and event.note and event.actor_id != reader.id:
            return event
    return None


def may_see_earlier(convo: Conversation, user: User) -> bool:
    """Earlier conversations with the texter are shown to the holder and to coordinators;
    not to a supporter merely offered the conversation, who has not taken it on yet."""
    return user.role == "coordinator" or convo.supporter_id == user.id


def earlier_conversations(session: Session, convo: Conversation) -> list[Conversation]:
    """The same texter's most recent closed conversations, newest first."""
    return list(
        session.scalars(
            select(Conversation)
            .where(
                Conversation.texter_id == convo.texter_id,
                Conversation.id != convo.id,
                Conversation.status == "closed",
            )
            .order_by(Conversation.id.desc())
            .limit(EARLIER_SHOWN)
        )
    )
