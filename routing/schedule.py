"""When a supporter is on shift: one piece of code answers it everywhere."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
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


class MoveError(ValueError):
    """A move that cannot be made; the message says why."""


@dataclass(frozen=True)
class Move:
    """What moving an occurrence leaves: the stored shift as it now stands (None when nothing
    of it is left) and the shift that takes the moved time."""

    kept: ShiftRule | None
    added: ShiftRule


# Parts of an RRULE that name days or times themselves: a series holding them cannot be
# carried to another day or hour by moving its start.
_PINNED_PARTS = frozenset(
    [
        "BYDAY",
        "BYMONTHDAY",
        "BYYEARDAY",
        "BYWEEKNO",
        "BYMONTH",
        "BYSETPOS",
        "BYHOUR",
        "BYMINUTE",
        "BYSECOND",
    ]
)


def move_one(rule: ShiftRule, at: datetime, starts_at: datetime, ends_at: datetime) -> Move:
    """Move the occurrence starting `at` alone: a one-off shift simply changes; a series keeps
    every other occurrence and gains an exception, and a one-off shift takes the new time."""
    _check_occurrence(rule, at)
    added = ShiftRule(starts_at, ends_at, None, rule.timezone)
    if not rule.rrule:
        return Move(None, added)
    return Move(replace(rule, cancelled=rule.cancelled | {at.astimezone(UTC)}), added)


def move_following(rule: ShiftRule, at: datetime, starts_at: datetime, ends_at: datetime) -> Move:
    """Move the occurrence starting `at` and every later one by the same wall-clock step in
    the shift's zone: the series ends just before `at`, and a new series begins at
    `starts_at`, keeping what is left of a COUNT and the cancellations still ahead."""
    _check_occurrence(rule, at)
    if not rule.rrule:
        return Move(None, ShiftRule(starts_at, ends_at, None, rule.timezone))
    zone = ZoneInfo(rule.timezone)
    parts = _rrule_parts(rule.rrule)
    old_local, new_local = _local(at, zone), _local(starts_at, zone)
    step = new_local - old_local
    if step and any(part in parts for part in _PINNED_PARTS):
        raise MoveError("this repeat pattern names its own days or times; it cannot be moved")
    ahead = frozenset(c for c in rule.cancelled if c >= at)
    tail_parts = dict(parts)
    if "COUNT" in parts:
        first = _local(rule.starts_at, zone)
        before = len(rrulestr(rule.rrule, dtstart=first).between(first, old_local, inc=True)) - 1
        tail_parts["COUNT"] = str(int(parts["COUNT"]) - before)
    if "UNTIL" in parts:
        tail_parts["UNTIL"] = _rrule_time(_parse_until(parts["UNTIL"]) + step)
    added = ShiftRule(
        starts_at,
        ends_at,
        _rrule_text(tail_parts),
        rule.timezone,
        frozenset((_local(c, zone) + step).replace(tzinfo=zone).astimezone(UTC) for c in ahead),
    )
    if at == rule.starts_at:
        return Move(None, added)
    head_parts = {k: v for k, v in parts.items() if k != "COUNT"}
    head_parts["UNTIL"] = _rrule_time(old_local - timedelta(seconds=1))
    kept = replace(rule, rrule=_rrule_text(head_parts), cancelled=rule.cancelled - ahead)
    return Move(kept, added)


def _check_occurrence(rule: ShiftRule, at: datetime) -> None:
    window = (at - timedelta(minutes=1), at + timedelta(minutes=1))
    if not any(begin == at for begin, _ in occurrences(rule, *window)):
        raise MoveError("no occurrence of this shift starts at that time")


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _rrule_parts(text: str) -> dict[str, str]:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:") :]
    if "\n" in body or ":" in body:
        raise MoveError("only a plain RRULE can be moved")
    pairs = [p.split("=", 1) for p in body.split(";") if p]
    if any(len(pair) != 2 for pair in pairs):
        raise MoveError("this repeat pattern cannot be read")
    return {key.upper(): value for key, value in pairs}


def _rrule_text(parts: dict[str, str]) -> str:
    return ";".join(f"{key}={value}" for key, value in parts.items())


def _parse_until(value: str) -> datetime:
    for pattern in ("%Y%m%dT%H%M%S", "%Y%m%d"):
        try:
            return datetime.strptime(value.rstrip("Z"), pattern)
        except ValueError:
            continue
    raise MoveError(f"the repeat pattern's UNTIL {value!r} cannot be read")


def _rrule_time(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")
