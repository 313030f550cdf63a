"""Supporters and coordinators: creation, passwords, API tokens, presence."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpline.models import ApiToken, User
from helpline.services import web_sessions

ROLES = ("supporter", "coordinator")
STATUSES = ("available", "away", "offline")
# What str.strip() removes, spelled out for patterns that ECMAScript (the OpenAPI document's
# readers) must read as Python does: their \s is a slightly different set.
WHITESPACE = r"\t-\r\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
EMAIL_PATTERN = f"^[^@{WHITESPACE}]+@[^@{WHITESPACE}]+\\.[^@{WHITESPACE}]+$"
_EMAIL = re.compile(EMAIL_PATTERN)
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class UserError(ValueError):
    """Invalid user data; the message says which field and why."""


class EmailTaken(UserError):
    pass


def create_user(
    session: Session, email: str, name: str, password: str, role: str = "supporter", **fields: Any
) -> User:
    """Create a user with an argon2id password hash; refuse a taken email."""
    data = validate(
        {"email": email, "name": name, "password": password, "role": role, **fields}, creating=True
    )
    password = data.pop("password")
    user = User(password_hash=_hasher.hash(password), **data)
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise EmailTaken(f"a user with email {email!r} already exists") from exc
    return user


def update_user(session: Session, user: User, changes: dict[str, Any]) -> User:
    data = validate(changes, creating=False)
    if "password" in data:
        user.password_hash = _hasher.hash(data.pop("password"))
    for key, value in data.items():
        setattr(user, key, value)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise EmailTaken("that email is taken") from exc
    return user


def validate(data: dict[str, Any], creating: bool) -> dict[str, Any]:  # noqa: C901
    """Check user fields as given by the API or the CLI; return the cleaned values."""
    allowed = {
        "email",
        "name",
        "password",
        "role",
        "skills",
        "languages",
        "max_conversations",
        "timezone",
        "is_active",
        "skill_expiry",
    }
    unknown = set(data) - allowed
    if unknown:
        raise UserError(f"unknown field(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    if "email" in data or creating:
        email = data.get("email")
        if not isinstance(email, str) or not _EMAIL.fullmatch(email) or len(email) > 254:
            raise UserError("email must be a valid address")
        out["email"] = email.strip().lower()
    if "name" in data or creating:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 120:
            raise UserError("name must be 1 to 120 characters")
        out["name"] = name.strip()
    if "password" in data or creating:
        password = data.get("password")
        if not isinstance(password, str) or not 8 <= len(password) <= 1024:
            raise UserError("password must be 8 to 1024 characters")
        out["password"] = password
    if "role" in data:
        if data["role"] not in ROLES:
            raise UserError("role must be supporter or coordinator")
        out["role"] = data["role"]
    for key in ("skills", "languages"):
        if key in data:
            value = data[key]
            if not isinstance(value, list) or not all(
                isinstance(v, str) and 0 < len(v) <= 40 for v in value
            ):
                raise UserError(f"{key} must be a list of short texts")
            out[key] = sorted({v.strip().lower() for v in value})
    if "max_conversations" in data:
        value = data["max_conversations"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 50:
            raise UserError("max_conversations must be a whole number from 0 to 50")
        out["max_conversations"] = value
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            raise UserError("is_active must be true or false")
        out["is_active"] = data["is_active"]
    if "timezone" in data:
        out["timezone"] = _timezone(data["timezone"])
    if "skill_expiry" in data:
        out["skill_expiry"] = _skill_expiry(data["skill_expiry"])
    return out


def _skill_expiry(value: object) -> dict[str, str]:
    """{"crisis": "2027-06-30T00:00:00+00:00"}: when each skill's training lapses."""
    if not isinstance(value, dict):
        raise UserError("skill_expiry must map skill names to ISO 8601 times")
    out = {}
    for skill, until in value.items():
        try:
            moment = datetime.fromisoformat(until) if isinstance(until, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise UserError(f"skill_expiry.{skill} must be an ISO 8601 time with an offset")
        out[str(skill).strip().lower()] = moment.isoformat()
    return out


def _timezone(value: object) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(value, str):
        raise UserError("timezone must be an IANA zone name")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserError(f"unknown timezone {value!r}") from exc
    return value


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None; same cost either way."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def issue_token(session: Session, user: User) -> str:
    """A new API bearer token for `user`; only its SHA-256 is stored."""
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token)))
    session.flush()
    return token


# Every API request's first statement, built once (as a send's, services.outbound).
_TOKEN_USER = (
    select(User)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(
        ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None), User.is_active
    )
)


def user_for_token(session: Session, token: str) -> User | None:
    """The active user holding this unrevoked token, read with it in one statement."""
    return session.scalar(_TOKEN_USER, {"digest": _digest(token)})


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def set_status(user: User, status: str, now: datetime) -> None:
    if status not in STATUSES:
        raise UserError("status must be available, away or offline")
    user.status = status


def deactivate(session: Session, user: User, now: datetime) -> None:
    """Deactivated: signed out everywhere at once and set offline, so the handoff rules hand
    their conversations on."""
    user.is_active = False
    web_sessions.revoke_everything(session, user.id, now)
    user.status = "offline"
    session.flush()
