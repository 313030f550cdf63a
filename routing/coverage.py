"""Coverage: staffed capacity and expected demand for each wall-clock hour of a week.

Hours are the helpline's local hours (Monday 00:00 to Sunday 23:00, 168 slots). Across a
DST change a slot can last 0 real hours (the skipped hour) or 2 (the repeated one); each
slot carries its real UTC span, so nothing is counted twice or lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

HOURS_PER_WEEK = 168
HourOfWeek = tuple[int, int]  # (weekday 0=Monday, hour 0-23), local wall clock


@dataclass(frozen=True)
class Staffing:
    """One supporter's shift occurrences in (or around) the week, as coverage needs them."""

    supporter_id: int
    max_conversations: int
    crisis_trained: bool
    spans: tuple[tuple[datetime, datetime], ...]


@dataclass(frozen=True)
class HourCoverage:
    day: date
    hour: int
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC; equal to starts_at for the hour a DST change skips
    capacity: int
    crisis_trained: int
    supporter_ids: tuple[int, ...]
    demand: float | None  # expected new conversations in this hour; None: no history

    @property
    def exists(self) -> bool:
        return self.ends_at > self.starts_at

    @property
    def is_short(self) -> bool:
        """Demand is known and exceeds the staffed capacity."""
        return self.exists and self.demand is not None and self.demand > self.capacity

    @property
    def has_no_crisis_cover(self) -> bool:
        return self.exists and self.crisis_trained == 0

    @property
    def is_flagged(self) -> bool:
        return self.is_short or self.has_no_crisis_cover


def week_start(day: date) -> date:
    """The Monday of the week holding `day`."""
    return day - timedelta(days=day.weekday())


def hour_slots(monday: date, zone: str) -> list[tuple[date, int, datetime, datetime]]:
    """The 168 local hours of the week starting `monday`, each with its real UTC span."""
    tz = ZoneInfo(zone)
    edges = [
        datetime.combine(monday + timedelta(days=d), time(h), tz).astimezone(UTC)
        for d in range(8)
        for h in range(24)
    ][: HOURS_PER_WEEK + 1]
    slots = []
    for index in range(HOURS_PER_WEEK):
        begin, end = edges[index], edges[index + 1]
        # The skipped hour converts to a later instant than the hour after it: it has no length.
        slots.append((monday + timedelta(days=index // 24), index % 24, begin, max(begin, end)))
    return slots


def _covers(spans: Iterable[tuple[datetime, datetime]], begin: datetime, end: datetime) -> bool:
    """The (merged) spans cover the whole of [begin, end)."""
    reached = begin
    for span_start, span_end in sorted(spans):
        if span_start > reached:
            break
        reached = max(reached, span_end)
        if reached >= end:
            return True
    return reached >= end


def week_coverage(
    monday: date,
    zone: str,
    staff: Sequence[Staffing],
    demand: Mapping[HourOfWeek, float | None],
) -> list[HourCoverage]:
    """Per local hour of the week: capacity (limits of those on shift the whole hour),
    crisis-trained people on, and expected demand; a supporter on for part of an hour
    does not count for it, so a half-covered hour shows as a gap."""
    result = []
    for day, hour, begin, end in hour_slots(monday, zone):
        on = [s for s in staff if begin < end and _covers(s.spans, begin, end)]
        result.append(
            HourCoverage(
                day=day,
                hour=hour,
                starts_at=begin,
                ends_at=end,
                capacity=sum(s.max_conversations for s in on),
                crisis_trained=sum(1 for s in on if s.crisis_trained),
                supporter_ids=tuple(sorted(s.supporter_id for s in on)),
                demand=demand.get((day.weekday(), hour)),
            )
        )
    return result


def expected_demand(
    starts: Iterable[datetime],
    now: datetime,
    zone: str,
    weeks: int = 4,
    history_start: datetime | None = None,
) -> dict[HourOfWeek, float | None]:
    """Mean new conversations per local hour-of-week over the last `weeks` weeks.

    Only time the helpline has history for counts (from `history_start`, else the first
    conversation): an hour-of-week never observed, or no conversations at all, is None
    (unknown), never 0."""
    tz = ZoneInfo(zone)
    window_start = now - timedelta(weeks=weeks)
    recent = [s for s in starts if window_start <= s < now]
    known: dict[HourOfWeek, float | None] = {(d, h): None for d in range(7) for h in range(24)}
    origin = history_start if history_start is not None else min(recent, default=None)
    if origin is None:
        return known
    observed_from = max(window_start, origin)
    arrivals = Counter(_hour_of_week(s, tz) for s in recent if s >= observed_from)
    exposure = _hours_observed(observed_from, now, tz)
    for key, hours in exposure.items():
        known[key] = arrivals[key] / hours
    return known


def _hour_of_week(moment: datetime, tz: ZoneInfo) -> HourOfWeek:
    local = moment.astimezone(tz)
    return local.weekday(), local.hour


def _hours_observed(begin: datetime, end: datetime, tz: ZoneInfo) -> Counter[HourOfWeek]:
    """How many times each hour-of-week was wholly observed in [begin, end)."""
    local = begin.astimezone(tz)
    cursor = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    if cursor < begin:
        cursor += timedelta(hours=1)
    seen: Counter[HourOfWeek] = Counter()
    while cursor + timedelta(hours=1) <= end:
        seen[_hour_of_week(cursor, tz)] += 1
        cursor += timedelta(hours=1)
    return seen
