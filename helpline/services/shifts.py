"""Shifts: created and listed as occurrences through `routing.schedule`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpline.models import Conversation, Shift, User
from helpline.services.snapshots import shift_rules
from routing.schedule import MAX_SHIFT_LENGTH, current_shift_end, occurrences


class ShiftError(ValueError):
    """Invalid shift data; the message says why."""


@dataclass(frozen=True)
class Occurrence:
    shift_id: int
    supporter_id: int
    starts_at: datetime
    ends_at: datetime


# A shift that repeats more often than daily is a mistake, and would make every listing of
# occurrences expand thousands of them.
REPEATS = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})
_FREQ = re.compile(r"FREQ\s*=\s*(\w+)", re.IGNORECASE)


def create_shift(
    session: Session,
    supporter_id: int,
    starts_at: datetime,
    ends_at: datetime,
    rrule: str | None = None,
    timezone: str = "UTC",
) -> Shift:
    """Store a shift after checking its times, zone and RRULE."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ShiftError("starts_at and ends_at need a UTC offset")
    if ends_at <= starts_at:
        raise ShiftError("ends_at must be after starts_at")
    if ends_at - starts_at > MAX_SHIFT_LENGTH:
        raise ShiftError("a shift lasts at most 48 hours")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ShiftError(f"unknown timezone {timezone!r}") from exc
    if rrule:
        try:
            rrulestr(rrule, dtstart=starts_at.replace(tzinfo=None))
        except (ValueError, TypeError) as exc:
            raise ShiftError(f"rrule is not a valid RFC 5545 RRULE: {exc}") from exc
        too_often = {f.upper() for f in _FREQ.findall(rrule)} - REPEATS
        if too_often:
            raise ShiftError(
                "a shift repeats at most daily: FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY"
            )
    shift = Shift(
        supporter_id=supporter_id,
        starts_at=starts_at,
        ends_at=ends_at,
        rrule=rrule or None,
        timezone=timezone,
    )
    session.add(shift)
    session.flush()
    return shift


def list_occurrences(
    session: Session, start: datetime, end: datetime, supporter_id: int | None = None
) -> list[Occurrence]:
    """Every occurrence overlapping [start, end), earliest first."""
    query = select(Shift).where(Shift.starts_at < end)
    if supporter_id is not None:
        query = query.where(Shift.supporter_id == supporter_id)
    found: list[Occurrence] = []
    for shift in session.scalars(query):
        (rule,) = shift_rules([shift])
        for begin, finish in occurrences(rule, start, end):
            found.append(Occurrence(shift.id, shift.supporter_id, begin, finish))
    return sorted(found, key=lambda o: (o.starts_at, o.shift_id))


def default_window(now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(days=1), now + timedelta(days=7)


def cancel_occurrence(session: Session, shift: Shift, occurrence: datetime) -> None:
    """One occurrence of a shift will not happen (illness, a holiday)."""
    (rule,) = shift_rules([shift])
    window = (occurrence - timedelta(minutes=1), occurrence + timedelta(minutes=1))
    if not any(begin == occurrence for begin, _ in occurrences(rule, *window)):
        raise ShiftError("no occurrence of this shift starts at that time")
    shift.cancelled = sorted({*shift.cancelled, occurrence.astimezone(UTC).isoformat()})
    session.flush()


def move_occurrence(
    session: Session, shift: Shift, occurrence: datetime, starts_at: datetime, ends_at: datetime
) -> Shift:
    """One occurrence happens at another time: cancelled where it was, added where it goes."""
    cancel_occurrence(session, shift, occurrence)
    return create_shift(session, shift.supporter_id, starts_at, ends_at, None, shift.timezone)


# A supporter is warned this long before their shift ends while conversations are still open.
HEADS_UP = timedelta(minutes=15)


@dataclass(frozen=True)
class ShiftClock:
    """Where a supporter stands in their shift at one moment."""

    ends_at: datetime | None  # None: not on shift
    left: timedelta | None
    open_conversations: int

    @property
    def needs_heads_up(self) -> bool:
        """The shift ends within HEADS_UP and someone is still talking to this supporter."""
        return self.left is not None and self.left <= HEADS_UP and self.open_conversations > 0


def shift_clock(session: Session, user: User, now: datetime) -> ShiftClock:
    """The end of `user`'s current (merged) shift, the time left in it, and how many
    conversations they still hold."""
    rules = shift_rules(session.scalars(select(Shift).where(Shift.supporter_id == user.id)).all())
    end = current_shift_end(rules, now)
    held = session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.supporter_id == user.id, Conversation.status == "active")
    )
    return ShiftClock(end, None if end is None else end - now, int(held or 0))
