"""Who must hear that something changed, told once the change is committed.

A watched session (each request's and each job's) reads its own flushes for what a supporter
would see change: a text in or out of a conversation they hold or are offered, its delivery
status, the conversation's events, and the conversation itself given to them, offered to them
or taken from them. When the transaction commits, each supporter concerned gets one notice per
conversation: its id and a kind, never a number or a text. Notices go to the supporter's short
Redis stream, so a browser that reconnects catches up from the last one it saw, and ring the
doorbell channel, so whichever web process holds that supporter's event stream reads it now.

Coordinators' live boards hear too: a transaction that changed any conversation, or a
supporter's standing (status, shifts, limits), puts one notice on the shared board stream and
rings the doorbell for it. The board notice names nothing; the board re-reads itself.

Publishing is best effort: Redis being down at that moment loses the notice, never the change,
and the inbox re-reads its list whenever its event stream (re)connects.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, SessionTransaction

from helpline.models import Conversation, ConversationEvent, Message, Shift, User

log = logging.getLogger(__name__)

# Most telling first: one notice per supporter and conversation keeps the strongest kind.
KINDS = ("assigned", "offered", "removed", "text", "updated")
NEW_WORK = frozenset({"assigned", "offered", "text"})  # what earns a title badge

STREAM_LENGTH = 100  # per supporter: enough to replay any dropped connection of a few minutes
STREAM_TTL_S = 24 * 3600
BELL = "helpline:live:bell"  # pub/sub channel; a message is only a supporter id, or BOARD
BOARD = "board"  # the coordinators' broadcast stream: never a user id, which is a number
BOARD_KIND = "board"
# What the board shows of a supporter: a change to any of these redraws it.
_BOARD_USER_FIELDS = ("status", "is_active", "max_conversations", "skills", "name", "role")

_REDIS = "live.redis"
_CHANGES = "live.changes"
_READY = "live.ready"
_BOARD_READY = "live.board"

Listener = int | str  # a supporter's id, or BOARD


def stream_key(listener: Listener) -> str:
    return f"helpline:live:{listener}"


@dataclass(frozen=True, order=True)
class Notice:
    user_id: int
    conversation_id: int
    kind: str


@dataclass
class Changes:
    """What one transaction's flushes changed, until it commits or ends."""

    told: dict[tuple[int, int], str] = field(default_factory=dict)
    # Conversations whose holders are looked up at commit, when they are final.
    touched: dict[int, str] = field(default_factory=dict)
    # The holders of the conversations this transaction wrote through loaded objects, as
    # written: final already (a new row is seen by nobody else, a changed one is locked).
    holders: dict[int, tuple[int | None, int | None]] = field(default_factory=dict)
    board: bool = False  # something the coordinators' board shows changed

    def tell(self, user_id: int, conversation_id: int, kind: str) -> None:
        key = (user_id, conversation_id)
        self.told[key] = _stronger(self.told.get(key), kind)

    def touch(self, conversation_id: int, kind: str) -> None:
        self.touched[conversation_id] = _stronger(self.touched.get(conversation_id), kind)
        self.board = True

    def notices(self) -> list[Notice]:
        return sorted(Notice(user, convo, kind) for (user, convo), kind in self.told.items())


def _stronger(current: str | None, kind: str) -> str:
    if current is None or KINDS.index(kind) < KINDS.index(current):
        return kind
    return current


def watch(session: Session, redis: Redis) -> None:
    """Publish to `redis` the notices each commit of `session` produces."""
    session.info[_REDIS] = redis
    _listen()


@cache
def _listen() -> None:
    """Listen to every session once, acting only on watched ones: a listener set on one
    session costs more than one of a short transaction's statements."""
    event.listen(Session, "after_flush", _collect)
    event.listen(Session, "before_commit", _resolve)
    event.listen(Session, "after_commit", _publish)
    event.listen(Session, "after_transaction_end", _forget)


def touched(session: Session, conversation_id: int, kind: str = "updated") -> None:
    """A change written in SQL rather than through loaded objects, which the flush cannot
    see: its conversation's holders hear of it when the transaction commits."""
    if _REDIS in session.info:
        changes = session.info.setdefault(_CHANGES, Changes())
        changes.touch(conversation_id, kind)
        changes.holders.pop(conversation_id, None)  # the SQL may have changed them


def told(
    session: Session, conversation_id: int, holders: Iterable[int | None], kind: str = "updated"
) -> None:
    """As `touched`, when the caller read the conversation's holders with its change: they
    hear of it at the commit, with no query to find them."""
    if _REDIS in session.info:
        changes = session.info.setdefault(_CHANGES, Changes())
        for user_id in set(holders) - {None}:
            assert user_id is not None
            changes.tell(user_id, conversation_id, kind)


def _collect(session: Session, _flush_context: Any) -> None:
    if _REDIS in session.info:
        _collect_changes(session, session.info.setdefault(_CHANGES, Changes()))


def _collect_changes(session: Session, changes: Changes) -> None:
    """What the flush about to be made changes for supporters and the board. Each kind of row
    is asked only what matters about it: a batch's flush holds hundreds of texts and texters,
    and asking each whether anything at all changed cost a tenth of the batch."""
    for obj in session.new:
        _added(obj, changes)
    for obj in session.dirty:
        _changed(session, obj, changes)
    # A person, a shift or a conversation removed: the board's supporters (and its light)
    # may read differently.
    if any(isinstance(obj, Conversation | Shift | User) for obj in session.deleted):
        changes.board = True


def _added(obj: object, changes: Changes) -> None:
    if isinstance(obj, Conversation):
        _conversation_changed(obj, changes)
    elif isinstance(obj, Message) and obj.conversation_id is not None:
        changes.touch(obj.conversation_id, "text" if obj.direction == "in" else "updated")
    elif isinstance(obj, ConversationEvent):
        changes.touch(obj.conversation_id, "updated")
    elif isinstance(obj, User | Shift):  # the board shows people and their shifts
        changes.board = True


def _changed(session: Session, obj: object, changes: Changes) -> None:
    if isinstance(obj, Message):
        _message_changed(obj, changes)
    elif isinstance(obj, Conversation):
        if session.is_modified(obj):
            _conversation_changed(obj, changes)
    elif isinstance(obj, User):
        changes.board = changes.board or _user_shown_changed(obj)
    elif isinstance(obj, Shift):
        changes.board = changes.board or session.is_modified(obj)


def _user_shown_changed(user: User) -> bool:
    """Signing in or out changes no standing; what the board shows of a person does (each
    field's history is its net change)."""
    attrs = inspect(user).attrs
    return any(attrs[name].history.has_changes() for name in _BOARD_USER_FIELDS)


def _conversation_changed(convo: Conversation, changes: Changes) -> None:
    state = inspect(convo)
    for attribute, gained in (("supporter_id", "assigned"), ("offered_to_id", "offered")):
        history = state.attrs[attribute].history
        for before in history.deleted or ():
            if before is not None:
                changes.tell(before, convo.id, "removed")
        for after in history.added or ():
            if after is not None:
                changes.tell(after, convo.id, gained)
    changes.touch(convo.id, "updated")
    changes.holders[convo.id] = (convo.supporter_id, convo.offered_to_id)


def _message_changed(message: Message, changes: Changes) -> None:
    if message.conversation_id is None:
        return
    attrs = inspect(message).attrs
    if attrs.conversation_id.history.has_changes():  # an inbound text attached by the worker
        changes.touch(message.conversation_id, "text" if message.direction == "in" else "updated")
    elif attrs.delivery_status.history.has_changes() or attrs.error_code.history.has_changes():
        changes.touch(message.conversation_id, "updated")


def _resolve(session: Session) -> None:
    """Just before the commit, when nothing more will change: who holds what was touched."""
    if _REDIS not in session.info or session.in_nested_transaction():
        return
    session.flush()
    changes: Changes | None = session.info.pop(_CHANGES, None)
    if changes is None:
        return
    # Only those not written through loaded objects are read.
    holders = [(cid, *held) for cid, held in changes.holders.items() if cid in changes.touched]
    unknown = sorted(set(changes.touched) - set(changes.holders))
    if unknown:
        holders += session.execute(
            select(Conversation.id, Conversation.supporter_id, Conversation.offered_to_id).where(
                Conversation.id.in_(unknown)
            )
        ).all()
    for convo_id, supporter_id, offered_to_id in holders:
        for user_id in {supporter_id, offered_to_id} - {None}:
            assert user_id is not None
            changes.tell(user_id, convo_id, changes.touched[convo_id])
    session.info[_READY] = changes.notices()
    session.info[_BOARD_READY] = changes.board


def _publish(session: Session) -> None:
    if session.in_nested_transaction():
        return
    notices = session.info.pop(_READY, None)
    board = session.info.pop(_BOARD_READY, False)
    if notices or board:
        publish(session.info[_REDIS], notices or [], board=board)


def _forget(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that ended without committing (or after publishing) leaves nothing. A
    savepoint that ended may have been rolled back, and its writes with it: the holders are
    read at the commit."""
    if transaction.parent is None:
        session.info.pop(_CHANGES, None)
        session.info.pop(_READY, None)
        session.info.pop(_BOARD_READY, None)
    elif transaction.nested and _CHANGES in session.info:
        session.info[_CHANGES].holders.clear()


def publish(redis: Redis, notices: Iterable[Notice], board: bool = False) -> None:
    """Append each notice to its supporter's stream, then ring each supporter's doorbell once;
    with `board`, one notice on the coordinators' board stream too, and its ring.

    One round trip; Redis runs the commands in order, so a reader woken by the bell finds
    the notice already in the stream.
    """
    notices = list(notices)
    try:
        pipe = redis.pipeline(transaction=False)
        for notice in notices:
            key = stream_key(notice.user_id)
            fields = {"kind": notice.kind, "conversation": notice.conversation_id}
            pipe.xadd(key, fields, maxlen=STREAM_LENGTH, approximate=False)  # type: ignore[arg-type]
            pipe.expire(key, STREAM_TTL_S)
        if board:
            key = stream_key(BOARD)
            pipe.xadd(key, {"kind": BOARD_KIND}, maxlen=STREAM_LENGTH, approximate=False)
            pipe.expire(key, STREAM_TTL_S)
        for user_id in sorted({n.user_id for n in notices}):
            pipe.publish(BELL, user_id)
        if board:
            pipe.publish(BELL, BOARD)
        pipe.execute()
    except RedisError as exc:
        log.warning("live notices for %d conversation(s) not published: %s", len(notices), exc)
