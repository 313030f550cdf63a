"""Canned responses: written by coordinators, searched and filled in by supporters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpline.models import CannedResponse, User

MAX_TITLE = 80
MAX_BODY = 1000
FIELDS = ("title", "body")


class CannedError(ValueError):
    """Invalid canned response data; the message says why."""


def all_responses(session: Session) -> list[CannedResponse]:
    """Every canned response, by title."""
    return list(session.scalars(select(CannedResponse).order_by(CannedResponse.title)))


def save(
    session: Session, row: CannedResponse, data: dict[str, Any], now: datetime
) -> CannedResponse:
    """Check and store a new or changed canned response."""
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise CannedError(f"unknown fields: {', '.join(sorted(unknown))}")
    creating = row.id is None
    for field, longest in (("title", MAX_TITLE), ("body", MAX_BODY)):
        if field in data or creating:
            value = data.get(field)
            if not isinstance(value, str) or not value.strip() or len(value) > longest:
                raise CannedError(f"{field} must be 1 to {longest} characters, not only spaces")
            setattr(row, field, value.strip() if field == "title" else value)
    row.updated_at = now
    session.add(row)
    session.flush()
    return row


def fill(body: str, supporter: User) -> str:
    """The body as `supporter` would send it: placeholders filled, other braces left alone."""
    first = supporter.name.split()[0] if supporter.name.strip() else "your supporter"
    return body.replace("{supporter_first_name}", first)
