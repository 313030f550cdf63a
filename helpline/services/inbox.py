"""What a supporter's inbox shows: their conversations, and a thread with its history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpline.models import Conversation, ConversationEvent, Message, User


@dataclass(frozen=True)
class Row:
    conversation: Conversation
    last_text: Message | None
    waiting_on_me: bool  # the texter wrote last


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
    rows = []
    for convo in convos:
        last = _last_said(convo)
        rows.append(Row(convo, last, bool(last and last.direction == "in")))
    return sorted(
        rows,
        key=lambda r: (
            r.conversation.priority != "urgent",
            not r.waiting_on_me,
            r.conversation.last_inbound_at or r.conversation.created_at,
        ),
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
