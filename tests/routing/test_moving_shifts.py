"""Moving shifts: one occurrence alone, or this one and all following (a split series),
across daylight-saving changes and around occurrences already cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from routing.model import ShiftRule
from routing.schedule import MoveError, move_following, move_one, occurrences

LONDON = ZoneInfo("Europe/London")
NY = ZoneInfo("America/New_York")
FAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC))


def london(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=LONDON)


def mondays_at_six(rrule: str = "FREQ=WEEKLY", **kw: object) -> ShiftRule:
    """Every Monday 18:00-21:00 London time from 2 March 2026 (GMT; BST from 29 March)."""
    return ShiftRule(london(3, 2, 18), london(3, 2, 21), rrule, "Europe/London", **kw)  # type: ignore[arg-type]


def starts(*rules: ShiftRule | None, until: datetime = FAR[1]) -> list[datetime]:
    return sorted(
        begin.astimezone(UTC)
        for rule in rules
        if rule is not None
        for begin, _ in occurrences(rule, FAR[0], until)
    )


def test_a_one_off_shift_simply_takes_the_new_time() -> None:
    rule = ShiftRule(london(3, 4, 9), london(3, 4, 12), None, "Europe/London")
    move = move_one(rule, london(3, 4, 9), london(3, 5, 10), london(3, 5, 14))
    assert move.kept is None
    assert starts(move.added) == [london(3, 5, 10)]


def test_moving_one_occurrence_cancels_it_in_the_series_and_adds_a_one_off() -> None:
    rule = mondays_at_six()
    move = move_one(rule, london(3, 16, 18), london(3, 17, 8), london(3, 17, 11))
    assert move.added.rrule is None
    assert starts(move.kept, move.added, until=london(3, 31, 0)) == [
        london(3, 2, 18),
        london(3, 9, 18),
        london(3, 17, 8),
        london(3, 23, 18),
        london(3, 30, 18),
    ]


def test_moving_this_and_following_ends_the_series_before_it_and_starts_a_new_one() -> None:
    rule = mondays_at_six()
    move = move_following(rule, london(3, 16, 18), london(3, 17, 19), london(3, 17, 22))
    assert move.kept is not None and move.kept.starts_at == rule.starts_at
    assert starts(move.kept) == [london(3, 2, 18), london(3, 9, 18)]
    assert starts(move.added, until=london(4, 1, 0)) == [
        london(3, 17, 19),
        london(3, 24, 19),
        london(3, 31, 19),
    ]
    assert all(
        finish - begin == timedelta(hours=3) for begin, finish in occurrences(move.added, *FAR)
    )


def test_a_split_across_the_uk_clock_change_keeps_local_wall_time_on_both_sides() -> None:
    """Before 29 March 18:00 London is 18:00 UTC; after it, 19:00 London is 18:00 UTC."""
    rule = mondays_at_six()
    move = move_following(rule, london(3, 30, 18), london(3, 30, 19), london(3, 30, 22))
    assert [s.hour for s in starts(move.kept)] == [18, 18, 18, 18]  # GMT: local 18:00
    summer = starts(move.added, until=datetime(2026, 4, 10, tzinfo=UTC))
    assert summer == [datetime(2026, 3, 30, 18, tzinfo=UTC), datetime(2026, 4, 6, 18, tzinfo=UTC)]
    assert [s.astimezone(LONDON).hour for s in summer] == [19, 19]


def test_moving_one_occurrence_over_the_us_clock_change_lands_at_the_local_time_asked() -> None:
    rule = ShiftRule(
        datetime(2026, 3, 2, 18, tzinfo=NY),
        datetime(2026, 3, 2, 21, tzinfo=NY),
        "FREQ=WEEKLY",
        "America/New_York",
    )
    move = move_following(
        rule,
        datetime(2026, 3, 2, 18, tzinfo=NY),
        datetime(2026, 3, 3, 18, tzinfo=NY),
        datetime(2026, 3, 3, 21, tzinfo=NY),
    )
    assert move.kept is None  # the first occurrence moved: nothing of the old series is left
    found = starts(move.added, until=datetime(2026, 3, 15, tzinfo=UTC))
    assert found == [datetime(2026, 3, 3, 23, tzinfo=UTC), datetime(2026, 3, 10, 22, tzinfo=UTC)]


def test_cancellations_stay_with_the_half_of_the_series_they_belong_to() -> None:
    """16 March was cancelled before the split and stays cancelled; 13 April, after it, is
    cancelled at its new time in the new series."""
    cancelled = frozenset({london(3, 16, 18).astimezone(UTC), london(4, 13, 18).astimezone(UTC)})
    rule = mondays_at_six(cancelled=cancelled)
    move = move_following(rule, london(3, 30, 18), london(3, 30, 19), london(3, 30, 22))
    assert starts(move.kept) == [london(3, 2, 18), london(3, 9, 18), london(3, 23, 18)]
    assert starts(move.added, until=london(4, 21, 0)) == [
        london(3, 30, 19),
        london(4, 6, 19),
        london(4, 20, 19),
    ]


def test_a_counted_series_keeps_its_total_when_split() -> None:
    rule = mondays_at_six("FREQ=WEEKLY;COUNT=6")
    move = move_following(rule, london(3, 23, 18), london(3, 23, 17), london(3, 23, 20))
    assert len(starts(move.kept)) == 3
    assert starts(move.added) == [london(3, 23, 17), london(3, 30, 17), london(4, 6, 17)]


def test_an_ending_series_moved_later_keeps_its_last_occurrence() -> None:
    rule = mondays_at_six("FREQ=WEEKLY;UNTIL=20260330T180000")
    move = move_following(rule, london(3, 16, 18), london(3, 16, 20), london(3, 16, 23))
    assert starts(move.added) == [london(3, 16, 20), london(3, 23, 20), london(3, 30, 20)]


@pytest.mark.parametrize("at", [london(3, 3, 18), london(3, 16, 18)])
def test_only_an_occurrence_that_will_happen_can_be_moved(at: datetime) -> None:
    rule = mondays_at_six(cancelled=frozenset({london(3, 16, 18).astimezone(UTC)}))
    with pytest.raises(MoveError):
        move_one(rule, at, at + timedelta(hours=1), at + timedelta(hours=2))
    with pytest.raises(MoveError):
        move_following(rule, at, at + timedelta(hours=1), at + timedelta(hours=2))


def test_a_series_that_names_its_days_cannot_be_carried_to_another_day() -> None:
    rule = mondays_at_six("FREQ=WEEKLY;BYDAY=MO")
    with pytest.raises(MoveError):
        move_following(rule, london(3, 16, 18), london(3, 17, 18), london(3, 17, 21))
    longer = move_following(rule, london(3, 16, 18), london(3, 16, 18), london(3, 16, 22))
    assert starts(longer.added, until=london(3, 24, 0)) == [london(3, 16, 18), london(3, 23, 18)]
