"""Each person's private calendar feed: a secret URL whose token only they (and
coordinators) can make, listing their own shifts and nothing else."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpline.models import User
from helpline.services import audit, ical, shifts

# The feed lists occurrences from this far back to this far ahead, at most MAX_EVENTS of them.
PAST = timedelta(weeks=4)
AHEAD = timedelta(weeks=12)
MAX_EVENTS = 500
MAX_TOKEN = 100  # longer is not one of ours; not even hashed


def reset_token(session: Session, person: User, actor: User, now: datetime) -> str:
    """A new feed token for `person` (the old URL stops working); only its SHA-256 is kept."""
    token = secrets.token_urlsafe(32)
    person.calendar_token_hash = _digest(token)
    detail = {"user_id": person.id}
    audit.record(session, audit.FEED_RESET, now, actor_id=actor.id, detail=detail)
    session.flush()
    return token


def person_for_token(session: Session, token: str) -> User | None:
    """The active person whose feed this token opens, or None."""
    if not token or len(token) > MAX_TOKEN:
        return None
    person = session.scalar(select(User).where(User.calendar_token_hash == _digest(token)))
    return person if person is not None and person.is_active else None


def feed(session: Session, person: User, now: datetime, domain: str) -> str:
    """`person`'s shifts from PAST before `now` to AHEAD after it, one VEVENT per occurrence
    (cancelled ones left out, moved ones where they now are), in UTC."""
    found = shifts.list_occurrences(session, now - PAST, now + AHEAD, person.id)[:MAX_EVENTS]
    events = (
        ical.Event(
            uid=f"shift-{o.shift_id}-{ical.utc_stamp(o.starts_at)}@{domain}",
            starts_at=o.starts_at,
            ends_at=o.ends_at,
            summary="Helpline shift",
        )
        for o in found
    )
    return ical.calendar("Helpline shifts", events, now)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
