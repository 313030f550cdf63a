"""Inviting someone by a one-time link: they choose their own first password."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from helpline.models import Invite, User
from helpline.services import audit, users

LIFETIME = timedelta(days=7)
MAX_TOKEN = 100
# Stored in place of a password hash: argon2 cannot read it, so nobody signs in with it.
NO_PASSWORD = "!invited"


class InviteGone(Exception):
    """The link is unknown, used, expired, or its person deactivated; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def invite(
    session: Session, email: str, name: str, actor: User, now: datetime, **fields: Any
) -> tuple[User, str]:
    """A new person without a password, and the token of a link that lets them set one."""
    person = users.create_user(session, email, name, secrets.token_urlsafe(16), **fields)
    person.password_hash = NO_PASSWORD
    return person, new_link(session, person, actor, now)


def new_link(session: Session, person: User, actor: User, now: datetime) -> str:
    """A fresh link for `person`, valid for LIFETIME; only its SHA-256 is stored."""
    token = secrets.token_urlsafe(32)
    session.add(Invite(user_id=person.id, token_hash=_digest(token), expires_at=now + LIFETIME))
    audit.record(session, audit.INVITED, now, actor_id=actor.id, detail={"user_id": person.id})
    session.flush()
    return token


def is_waiting(person: User) -> bool:
    """Invited and not yet with a password of their own."""
    return person.password_hash == NO_PASSWORD


def open_invite(session: Session, token: str, now: datetime) -> Invite:
    """The invite this token opens, or InviteGone saying why not."""
    row = None
    if token and len(token) <= MAX_TOKEN:
        row = session.scalar(select(Invite).where(Invite.token_hash == _digest(token)))
    if row is None:
        raise InviteGone("unknown")
    if row.used_at is not None:
        raise InviteGone("used")
    if row.expires_at <= now:
        raise InviteGone("expired")
    if not row.user.is_active:
        raise InviteGone("deactivated")
    return row


def accept(session: Session, token: str, password: str, now: datetime) -> User:
    """Set the invited person's password by the usual rules; the link is dead afterwards."""
    row = open_invite(session, token, now)
    users.update_user(session, row.user, {"password": password})
    # Claimed in one statement, so two tabs submitting at once cannot both use it.
    claimed = session.execute(
        update(Invite).where(Invite.id == row.id, Invite.used_at.is_(None)).values(used_at=now)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise InviteGone("used")
    detail = {"user_id": row.user_id}
    audit.record(session, audit.INVITE_USED, now, actor_id=row.user_id, detail=detail)
    session.flush()
    return row.user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
