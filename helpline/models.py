"""Typed models. Rules do not live here: they live in `routing/` and `helpline/services/`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Case,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    TypeDecorator,
    case,
    literal_column,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpline.db import Base
from helpline.vault import SealedAddress

OPEN_STATUSES = ("queued", "active")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# The partial index's condition; a query that reads it repeats these terms (snapshots.py).
ROOM_PREDICATE = (
    "is_active = {true} AND status = 'available' AND held_conversations < max_conversations"
)


class User(Base):
    """A peer supporter or a coordinator."""

    __tablename__ = "users"
    __table_args__ = (
        # Available supporters below their limit: what a routing pass reads (migration 0018).
        Index(
            "ix_users_with_room",
            "id",
            sqlite_where=text(ROOM_PREDICATE.format(true="1")),
            postgresql_where=text(ROOM_PREDICATE.format(true="true")),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16), default="supporter")
    password_hash: Mapped[str] = mapped_column(String(255))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Skills whose training lapses: {"crisis": "2027-06-30T00:00:00+00:00"}.
    skill_expiry: Mapped[dict[str, str]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    max_conversations: Mapped[int] = mapped_column(default=3)
    status: Mapped[str] = mapped_column(String(16), default="offline")
    is_active: Mapped[bool] = mapped_column(default=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The SHA-256 of the token in this person's private calendar feed URL; None: no feed.
    calendar_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Kept by triggers on conversations (migration 0018): the active conversations this person
    # holds or is offered, and how many of those are urgent. Read in SQL (snapshots.candidates),
    # never through a loaded object, which would not see a trigger's change.
    held_conversations: Mapped[int] = mapped_column(default=0, server_default="0", deferred=True)
    held_urgent: Mapped[int] = mapped_column(default=0, server_default="0", deferred=True)

    shifts: Mapped[list[Shift]] = relationship(back_populates="supporter")


class ApiToken(Base):
    """A bearer token for the JSON API; only its hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class Invite(Base):
    """A one-time link that lets a new person set their first password; only its hash is
    stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class WebSession(Base):
    """A signed-in browser. The cookie only names it, so sign-out and deactivation end it at
    once, and idle and absolute timeouts are enforced here, not by the browser."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie value
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Shift(Base):
    """A supporter's time on the line: one occurrence, or the first of an RRULE series."""

    __tablename__ = "shifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    supporter_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rrule: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Occurrences of a recurring shift that will not happen: their start times, ISO 8601 UTC.
    # A moved occurrence is a cancelled one plus a one-off shift.
    cancelled: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    supporter: Mapped[User] = relationship(back_populates="shifts")


class Texter(Base):
    """Someone who texts the line, known only by the address they text from: sealed at rest,
    found by its blind index (`vault.index`)."""

    __tablename__ = "texters"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(SealedAddress)
    address_key: Mapped[str] = mapped_column(String(64), unique=True)
    opted_out: Mapped[bool] = mapped_column(default=False)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Texted DELETE and was asked to confirm: a second DELETE soon after erases them.
    erase_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Blocked by a coordinator (abuse): texts are kept but open nothing, until `blocked_until`
    # (None: until unblocked).
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    blocked_reason: Mapped[str | None] = mapped_column(Text)
    blocked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_texters_blocked_by_id_users")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        # At most one open conversation per texter: the database, not the code, guarantees it.
        Index(
            "uq_conversations_one_open_per_texter",
            "texter_id",
            unique=True,
            sqlite_where=text("status IN ('queued', 'active')"),
            postgresql_where=text("status IN ('queued', 'active')"),
        ),
        Index("ix_conversations_queue", "status", "priority", "waiting_since"),
        Index("ix_conversations_supporter_status", "supporter_id", "status"),
        {"sqlite_autoincrement": True},  # an id never comes to name another row (0017)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    texter_id: Mapped[int] = mapped_column(ForeignKey("texters.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    required_skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(16))
    supporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    previous_supporter_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "users.id", ondelete="SET NULL", name="fk_conversations_previous_supporter_id_users"
        )
    )
    # Supporters who handed this conversation on for not answering: not offered it again.
    excluded_supporter_ids: Mapped[list[int]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    helpline_number: Mapped[str] = mapped_column(String(64))
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the supporter's
    nudged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A warm handoff in progress: offered to this supporter, who has not accepted yet.
    offered_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_conversations_offered_to_id_users")
    )
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The intake question asked while waiting, and whether the answer raised the priority.
    intake_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    intake_answer: Mapped[str | None] = mapped_column(String(160))
    # The flood policy: flagged for coordinators, then limited (served after everyone else).
    flagged: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    limited: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # When it became urgent: how long an urgent texter has waited for crisis-trained help.
    urgent_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    program_id: Mapped[int | None] = mapped_column(
        ForeignKey("programs.id", ondelete="SET NULL", name="fk_conversations_program_id_programs")
    )
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How it ended, one of `services.outcomes.OUTCOMES` (None: closed automatically, or open).
    outcome: Mapped[str | None] = mapped_column(String(32))
    # When the program's survey question went out with the closing text (None: not sent).
    survey_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The newest text the holder has had on screen: texts after it are unread. Not a foreign
    # key: an erased text leaves the mark where it was. Cleared when someone new holds it.
    seen_message_id: Mapped[int | None] = mapped_column()

    texter: Mapped[Texter] = relationship()
    supporter: Mapped[User | None] = relationship(foreign_keys=[supporter_id])
    program: Mapped[Program | None] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )
    events: Mapped[list[ConversationEvent]] = relationship(
        back_populates="conversation", order_by="ConversationEvent.id"
    )


def queue_rank() -> Case[Any]:
    """0 for an urgent conversation, 1 for any other: the first key of the queue's order
    (`routing.policy.queue_order`). Its values are written into the SQL, not bound: only then
    can the database read the queue in order from `ix_conversations_queue_order` (a bound
    value makes an expression the index does not hold, and the queue is sorted instead)."""
    urgent = Conversation.priority == literal_column("'urgent'")
    return case((urgent, literal_column("0")), else_=literal_column("1"))


# The queue in `routing.policy.queue_order`'s order, as a routing pass reads it a page at a time
# (migration 0019): a page costs what the page holds, however long the queue.
Index(
    "ix_conversations_queue_order",
    Conversation.status,
    queue_rank(),
    Conversation.limited,
    Conversation.waiting_since,
    Conversation.id,
)


class Message(Base):
    """One text, in or out. Inbound rows are stored by the webhook before anything else happens."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_unprocessed", "processed_at", "direction", "id"),
        Index("ix_messages_texter_key", "texter_key", "direction"),
        {"sqlite_autoincrement": True},  # a send job's id never names another text (0017)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(3))
    sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    body: Mapped[str] = mapped_column(Text, default="")
    # Both ends sealed at rest; the texter's end is found by its blind index, `texter_key`.
    from_address: Mapped[str] = mapped_column(SealedAddress)
    to_address: Mapped[str] = mapped_column(SealedAddress)
    texter_key: Mapped[str] = mapped_column(String(64))
    num_media: Mapped[int] = mapped_column(default=0)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    delivery_status: Mapped[str] = mapped_column(String(24), default="pending")
    error_code: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    send_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    conversation: Mapped[Conversation | None] = relationship(back_populates="messages")


class ConversationEvent(Base):
    """Something that happened to a conversation, and why: the routing log."""

    __tablename__ = "conversation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    supporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="events")


class AuditEntry(Base):
    """Who saw or did what to which conversation, and who was refused: append-only.

    No foreign keys on purpose: an entry outlives the conversation it names (the retention
    purge deletes conversations, never their audit trail), and the database refuses any
    UPDATE or DELETE of this table (triggers in migration 0010).
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column()
    action: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[int | None] = mapped_column()
    method: Mapped[str | None] = mapped_column(String(8))
    path: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[int | None] = mapped_column()
    remote_addr: Mapped[str | None] = mapped_column(
        String(64)
    )  # the staff member's, never a texter's
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Program(Base):
    """A line within the helpline (a Spanish line, a youth line): its numbers, needs and texts."""

    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    required_skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(16))
    # Overrides of the texts sent to texters, by setting key ("text_greeting": "Hola…").
    texts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Asked by text when a conversation closes ("Did this help? Reply 1-5"); None: no survey.
    survey_question: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    numbers: Mapped[list[ProgramNumber]] = relationship(
        back_populates="program", cascade="all, delete-orphan"
    )


class ProgramNumber(Base):
    """A helpline number (the `To` a texter writes to) and the program it belongs to."""

    __tablename__ = "program_numbers"

    number: Mapped[str] = mapped_column(String(64), primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))

    program: Mapped[Program] = relationship(back_populates="numbers")


class Setting(Base):
    """A routing setting or a text sent to texters, overriding the built-in default."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class CannedResponse(Base):
    """A reply coordinators wrote once for supporters to reuse; `{supporter_first_name}` in
    the body becomes the name of the supporter sending it."""

    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyResponse(Base):
    """A texter's answer (1 to 5) to their program's survey question after a conversation.
    Kept when the conversation is purged or erased: a score alone names nobody."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "conversations.id",
            ondelete="SET NULL",
            name="fk_survey_responses_conversation_id_conversations",
        ),
        index=True,
    )
    program_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "programs.id", ondelete="SET NULL", name="fk_survey_responses_program_id_programs"
        )
    )
    score: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
