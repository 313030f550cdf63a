"""Signed-in browsers as rows: the cookie holds a random token, the database its hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from helpline.models import ApiToken, User, WebSession

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
# last_seen_at is written at most this often: not on every poll of the inbox.
TOUCH_EVERY = timedelta(seconds=60)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, user: User, now: datetime) -> str:
    """A new session for `user`; the token goes in the cookie, only its hash is stored."""
    token = secrets.token_urlsafe(32)
    session.add(WebSession(id=_digest(token), user_id=user.id, created_at=now, last_seen_at=now))
    session.flush()
    return token


def resume(session: Session, token: str, now: datetime) -> tuple[WebSession, User] | None:
    """The live session and its user, or None when unknown, revoked, idle or too old."""
    row = session.get(WebSession, _digest(token))
    if row is None or row.revoked_at is not None:
        return None
    if now - row.last_seen_at > IDLE_TIMEOUT or now - row.created_at > ABSOLUTE_TIMEOUT:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return row, user


def needs_touch(row: WebSession, now: datetime) -> bool:
    return now - row.last_seen_at >= TOUCH_EVERY


def touch(session: Session, token: str, now: datetime) -> None:
    session.execute(
        update(WebSession).where(WebSession.id == _digest(token)).values(last_seen_at=now)
    )


def end(session: Session, token: str, now: datetime) -> None:
    """Sign out: this session stops working at once, wherever its cookie is."""
    session.execute(
        update(WebSession).where(WebSession.id == _digest(token)).values(revoked_at=now)
    )


def revoke_everything(session: Session, user_id: int, now: datetime) -> None:
    """Deactivation: every browser session and API token of the user stops working now."""
    session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def live_count(session: Session, user_id: int) -> int:
    return len(
        session.scalars(
            select(WebSession.id).where(
                WebSession.user_id == user_id, WebSession.revoked_at.is_(None)
            )
        ).all()
    )
