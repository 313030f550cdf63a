"""The append-only audit log: every view of a conversation, every refusal, every purge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from helpline.models import AuditEntry


@dataclass(frozen=True)
class Access:
    """One request as the audit log sees it."""

    actor_id: int | None
    method: str
    path: str
    status: int
    remote_addr: str | None


VIEWED = "conversation.viewed"
ACTED = "conversation.acted"
DENIED = "access.denied"
LISTED = "conversations.listed"
PURGED = "conversation.purged"
ERASED = "texter.erased"
BLOCKED = "texter.blocked"
UNBLOCKED = "texter.unblocked"
EXPORTED = "report.exported"
SHIFT_MOVED = "shift.moved"
FEED_RESET = "calendar_feed.reset"
INVITED = "person.invited"
INVITE_USED = "invite.used"
# Settings, texts, programs or canned responses changed (detail: what, and which keys or id).
CHANGED = "settings.changed"


def record(
    session: Session,
    action: str,
    now: datetime,
    *,
    conversation_id: int | None = None,
    access: Access | None = None,
    actor_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an entry for a request (`access`) or for work done outside one (`actor_id`)."""
    session.add(AuditEntry(**_columns(action, now, conversation_id, access, actor_id, detail)))


_INSERT = insert(AuditEntry)


def write(
    connection: Connection,
    action: str,
    now: datetime,
    *,
    conversation_id: int | None = None,
    access: Access | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """`record`, as one statement on a connection of its own (no session): the entry a
    request leaves once its answer is known (helpline.auditing)."""
    connection.execute(_INSERT, _columns(action, now, conversation_id, access, None, detail))


def _columns(
    action: str,
    now: datetime,
    conversation_id: int | None,
    access: Access | None,
    actor_id: int | None,
    detail: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "at": now,
        "action": action,
        "conversation_id": conversation_id,
        "actor_id": access.actor_id if access else actor_id,
        "method": access.method if access else None,
        "path": access.path[:255] if access else None,
        "status": access.status if access else None,
        "remote_addr": access.remote_addr if access else None,
        "detail": detail,
    }


def action_for(access: Access, conversation_id: int | None) -> str | None:
    """What a request amounts to, or None when it is not worth an entry.

    Refused: any 403, and a 404 on a conversation (someone else's looks unknown on purpose).
    Seen or acted on: a conversation's page or API call that succeeded.
    """
    if access.status == 403 or (access.status == 404 and conversation_id is not None):
        return DENIED
    if conversation_id is None or access.status >= 400:
        return None
    return VIEWED if access.method in ("GET", "HEAD") else ACTED


def entries(
    session: Session, conversation_id: int | None, after_id: int, limit: int
) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.id > after_id).order_by(AuditEntry.id)
    if conversation_id is not None:
        query = query.where(AuditEntry.conversation_id == conversation_id)
    return list(session.scalars(query.limit(limit)))


ACTIONS = (VIEWED, ACTED, DENIED, LISTED, PURGED, ERASED, BLOCKED, UNBLOCKED, EXPORTED)
ACTIONS += (SHIFT_MOVED, FEED_RESET, INVITED, INVITE_USED, CHANGED)


def recent(
    session: Session, conversation_id: int | None, action: str | None, limit: int
) -> list[AuditEntry]:
    """The newest entries first, narrowed to a conversation and/or an action."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if conversation_id is not None:
        query = query.where(AuditEntry.conversation_id == conversation_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query.limit(limit)))
