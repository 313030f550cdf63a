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
from routing import schedule
from routing.model import ShiftRule
from routing.schedule import MAX_SHIFT_LENGTH, current_shift_end, occurrences


class ShiftError(ValueError):
    """Invalid shift data; the message says why."""


@dataclass(frozen=True)
class Occurrence:
    shift_id: int
    supporter_id: int
    starts_at: datetime
    ends_at: datetime
    recurring: bool = False


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
    check_shift(starts_at, ends_at, rrule, timezone)
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


def check_shift(starts_at: datetime, ends_at: datetime, rrule: str | None, timezone: str) -> None:
    """Refuse times without an offset, an end not after the start, an over-long shift, an
    unknown zone, an RRULE dateutil cannot read."""
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
            found.append(Occurrence(shift.id, shift.supporter_id, begin, finish, bool(shift.rrule)))
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
    return move_shift(session, shift, occurrence, starts_at, ends_at, following=False)


def move_shift(
    session: Session,
    shift: Shift,
    occurrence: datetime,
    starts_at: datetime,
    ends_at: datetime,
    following: bool = False,
    supporter_id: int | None = None,
) -> Shift:
    """Move the occurrence starting at `occurrence` (and, `following`, every later one) to
    start and end at the given times, optionally with someone else; answers the shift that
    holds the new time. A one-off shift, or a series moved from its first occurrence, is
    changed in place; otherwise the series keeps the rest and a new shift is added."""
    (rule,) = shift_rules([shift])
    check_shift(starts_at, ends_at, None, shift.timezone)
    try:
        move = (schedule.move_following if following else schedule.move_one)(
            rule, occurrence, starts_at, ends_at
        )
    except schedule.MoveError as exc:
        raise ShiftError(str(exc)) from exc
    who = shift.supporter_id if supporter_id is None else supporter_id
    if move.kept is None:
        _store(shift, move.added)
        shift.supporter_id = who
        session.flush()
        return shift
    _store(shift, move.kept)
    added = create_shift(session, who, starts_at, ends_at, move.added.rrule, shift.timezone)
    _store(added, move.added)
    session.flush()
    return added


def _store(shift: Shift, rule: ShiftRule) -> None:
    shift.starts_at, shift.ends_at, shift.rrule = rule.starts_at, rule.ends_at, rule.rrule
    shift.cancelled = sorted(c.astimezone(UTC).isoformat() for c in rule.cancelled)


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
