"""When a supporter is on shift: one piece of code answers it everywhere."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from routing.model import ShiftRule

# How far back an occurrence may have started and still cover `now`: longer shifts are refused.
MAX_SHIFT_LENGTH = timedelta(days=2)


def occurrences(
    rule: ShiftRule, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """Yield (start, end) of each occurrence of `rule` that overlaps [start, end)."""
    length = rule.ends_at - rule.starts_at
    if not rule.rrule:
        if rule.starts_at < end and rule.ends_at > start and rule.starts_at not in rule.cancelled:
            yield rule.starts_at, rule.ends_at
        return
    zone = ZoneInfo(rule.timezone)
    # Recur in the shift's own zone so "every Monday 18:00" stays 18:00 across DST.
    first = rule.starts_at.astimezone(zone).replace(tzinfo=None)
    series = rrulestr(rule.rrule, dtstart=first)
    window_start = (start - length).astimezone(zone).replace(tzinfo=None)
    window_end = end.astimezone(zone).replace(tzinfo=None)
    for local_start in series.between(window_start, window_end, inc=True):
        begin = local_start.replace(tzinfo=zone)
        finish = (local_start + length).replace(tzinfo=zone)
        if begin < end and finish > start and begin not in rule.cancelled:
            yield begin, finish


def current_shift_end(rules: Iterable[ShiftRule], now: datetime) -> datetime | None:
    """The end of the (merged) shift covering `now`, or None when off shift."""
    spans = sorted(
        span
        for rule in rules
        for span in occurrences(rule, now - MAX_SHIFT_LENGTH, now + MAX_SHIFT_LENGTH)
    )
    end: datetime | None = None
    for begin, finish in spans:
        if end is None:
            if begin <= now < finish:
                end = finish
        elif begin <= end:
            end = max(end, finish)
    return end


def is_on_shift(rules: Iterable[ShiftRule], now: datetime, grace: timedelta = timedelta(0)) -> bool:
    """On shift at `now`, and not within `grace` of the shift's end."""
    end = current_shift_end(rules, now)
    return end is not None and end - now > grace


def next_opening(
    rules: Iterable[ShiftRule], now: datetime, horizon: timedelta = timedelta(days=14)
) -> datetime | None:
    """When the next shift starts (of anyone's `rules`), within `horizon`; None if never."""
    starts = [
        begin for rule in rules for begin, _ in occurrences(rule, now, now + horizon) if begin > now
    ]
    return min(starts, default=None)


def anyone_on_shift(rules: Iterable[ShiftRule], now: datetime) -> bool:
    """Is any of `rules` covering `now` (whoever it belongs to)?"""
    return current_shift_end(rules, now) is not None
