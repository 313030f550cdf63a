"""Coverage: staffed capacity against expected demand, hour by hour, on known data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from routing.coverage import (
    HOURS_PER_WEEK,
    Staffing,
    expected_demand,
    hour_slots,
    week_coverage,
    week_start,
)

LONDON = "Europe/London"
MONDAY = date(2026, 3, 2)  # an ordinary week, no DST change


def at(day: date, hour: int, zone: str = "UTC", minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone))


def staff(id: int, *spans: tuple[datetime, datetime], limit: int = 3, crisis: bool = False):
    return Staffing(id, limit, crisis, tuple(spans))


def cell(cover, day: date, hour: int):
    (found,) = [c for c in cover if c.day == day and c.hour == hour]
    return found


def test_a_week_has_168_hours_starting_monday():
    slots = hour_slots(MONDAY, "UTC")
    assert len(slots) == HOURS_PER_WEEK
    assert slots[0][:2] == (MONDAY, 0)
    assert slots[-1][:2] == (MONDAY + timedelta(days=6), 23)
    assert week_start(date(2026, 3, 8)) == MONDAY


def test_capacity_sums_the_limits_of_everyone_on_shift_that_hour():
    cover = week_coverage(
        MONDAY,
        "UTC",
        [
            staff(1, (at(MONDAY, 9), at(MONDAY, 17)), limit=3),
            staff(2, (at(MONDAY, 12), at(MONDAY, 14)), limit=2, crisis=True),
        ],
        {},
    )
    assert cell(cover, MONDAY, 8).capacity == 0
    assert cell(cover, MONDAY, 9).capacity == 3
    assert cell(cover, MONDAY, 12).capacity == 5
    assert cell(cover, MONDAY, 12).supporter_ids == (1, 2)
    assert cell(cover, MONDAY, 13).crisis_trained == 1
    assert cell(cover, MONDAY, 14).capacity == 3
    assert cell(cover, MONDAY, 17).capacity == 0


def test_someone_on_for_part_of_an_hour_does_not_count_for_it():
    cover = week_coverage(MONDAY, "UTC", [staff(1, (at(MONDAY, 9), at(MONDAY, 10, minute=30)))], {})
    assert cell(cover, MONDAY, 9).capacity == 3
    assert cell(cover, MONDAY, 10).capacity == 0


def test_back_to_back_shifts_cover_the_hour_they_meet_in():
    spans = (
        (at(MONDAY, 9), at(MONDAY, 10, minute=30)),
        (at(MONDAY, 10, minute=30), at(MONDAY, 12)),
    )
    cover = week_coverage(MONDAY, "UTC", [staff(1, *spans)], {})
    assert cell(cover, MONDAY, 10).capacity == 3


def test_hours_are_flagged_when_demand_exceeds_capacity_or_nobody_crisis_trained_is_on():
    crew = [staff(1, (at(MONDAY, 9), at(MONDAY, 11)), limit=2, crisis=True)]
    demand = {(0, 9): 1.5, (0, 10): 2.5}
    cover = week_coverage(MONDAY, "UTC", crew, demand)
    assert not cell(cover, MONDAY, 9).is_flagged
    assert cell(cover, MONDAY, 10).is_short
    assert cell(cover, MONDAY, 11).has_no_crisis_cover
    assert not cell(cover, MONDAY, 11).is_short  # demand unknown there: not claimed short


def test_demand_is_unknown_not_zero_without_history():
    demand = expected_demand([], at(MONDAY, 12), "UTC", weeks=4)
    assert len(demand) == HOURS_PER_WEEK
    assert set(demand.values()) == {None}


def test_demand_averages_each_hour_of_week_over_the_weeks_observed():
    now = at(MONDAY + timedelta(days=28), 0)  # four whole weeks of history behind it
    starts = [at(MONDAY, 9, minute=5), at(MONDAY, 9, minute=40), at(MONDAY + timedelta(days=7), 9)]
    demand = expected_demand(starts, now, "UTC", weeks=4, history_start=at(MONDAY, 0))
    assert demand[(0, 9)] == 3 / 4
    assert demand[(0, 10)] == 0  # observed four times, nobody texted: a real zero
    assert demand[(6, 23)] == 0


def test_demand_counts_only_the_time_the_helpline_has_history_for():
    now = at(MONDAY + timedelta(days=10), 0)  # opened MONDAY: 10 days, Monday 9:00 seen twice
    starts = [at(MONDAY, 9), at(MONDAY + timedelta(days=7), 9, minute=30)]
    demand = expected_demand(starts, now, "UTC", weeks=4, history_start=at(MONDAY, 0))
    assert demand[(0, 9)] == 1.0
    assert demand[(3, 9)] == 0  # Thursday 9:00 seen once (the 5th), no texts
    assert demand[(4, 9)] == 0
    assert demand[(5, 9)] == 0


def test_an_hour_of_week_never_observed_is_unknown():
    now = at(MONDAY, 12)
    demand = expected_demand([at(MONDAY, 10)], now, "UTC", history_start=at(MONDAY, 8))
    assert demand[(0, 10)] == 1.0
    assert demand[(0, 7)] is None
    assert demand[(0, 13)] is None
    assert demand[(2, 10)] is None


def test_demand_uses_the_helplines_local_hours():
    now = at(MONDAY + timedelta(days=7), 0, "America/New_York")
    starts = [datetime(2026, 3, 2, 14, 0, tzinfo=UTC)]  # 09:00 in New York (EST)
    start = at(MONDAY, 0, "America/New_York")
    demand = expected_demand(starts, now, "America/New_York", weeks=1, history_start=start)
    assert demand[(0, 9)] == 1.0
    assert demand[(0, 14)] == 0


# The week of 23 March 2026 holds the UK spring change: Sunday 29th, 01:00 GMT -> 02:00 BST.
SPRING = date(2026, 3, 23)
AUTUMN = date(2026, 10, 19)  # Sunday 25 October: 02:00 BST -> 01:00 GMT


def test_the_hour_skipped_in_spring_has_no_length_and_is_never_flagged():
    slots = {(d, h): (b, e) for d, h, b, e in hour_slots(SPRING, LONDON)}
    sunday = SPRING + timedelta(days=6)
    begin, end = slots[(sunday, 1)]
    assert begin == end
    assert slots[(sunday, 0)][1] - slots[(sunday, 0)][0] == timedelta(hours=1)
    assert slots[(sunday, 2)] == (
        datetime(2026, 3, 29, 1, tzinfo=UTC),
        datetime(2026, 3, 29, 2, tzinfo=UTC),
    )
    cover = week_coverage(SPRING, LONDON, [], {(6, 1): 4.0})
    assert not cell(cover, sunday, 1).is_flagged
    assert cell(cover, sunday, 2).has_no_crisis_cover


def test_a_shift_at_1800_local_stays_at_1800_across_the_spring_change():
    sunday = SPRING + timedelta(days=6)
    # 18:00-22:00 London on Saturday (GMT) and Sunday (BST): the UTC times differ by an hour.
    spans = (
        (at(sunday - timedelta(days=1), 18, LONDON), at(sunday - timedelta(days=1), 22, LONDON)),
        (at(sunday, 18, LONDON), at(sunday, 22, LONDON)),
    )
    cover = week_coverage(SPRING, LONDON, [staff(1, *spans, crisis=True)], {})
    for day in (sunday - timedelta(days=1), sunday):
        assert [c.hour for c in cover if c.day == day and c.capacity] == [18, 19, 20, 21]
    assert cell(cover, sunday, 18).starts_at == datetime(2026, 3, 29, 17, tzinfo=UTC)


def test_the_hour_repeated_in_autumn_is_two_hours_long_and_needs_both_covered():
    sunday = AUTUMN + timedelta(days=6)
    slots = {(d, h): (b, e) for d, h, b, e in hour_slots(AUTUMN, LONDON)}
    begin, end = slots[(sunday, 1)]
    assert (begin, end) == (
        datetime(2026, 10, 25, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 2, tzinfo=UTC),
    )
    # On from 00:00 to 01:30 UTC: the first 01:00 (BST) is covered, the second (GMT) is not.
    night = staff(
        1, (datetime(2026, 10, 25, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    )
    cover = week_coverage(AUTUMN, LONDON, [night], {})
    assert cell(cover, sunday, 1).capacity == 0


def test_demand_in_the_repeated_autumn_hour_is_a_rate_per_real_hour():
    sunday = AUTUMN + timedelta(days=6)
    start = at(sunday, 0, LONDON)
    now = start + timedelta(hours=4)
    # Two texts in the first 01:00 (BST), none in the second (GMT).
    starts = [datetime(2026, 10, 25, 0, 10, tzinfo=UTC), datetime(2026, 10, 25, 0, 50, tzinfo=UTC)]
    demand = expected_demand(starts, now, LONDON, weeks=1, history_start=start)
    assert demand[(6, 1)] == 1.0  # two texts over the two real hours the local hour lasted
    assert demand[(6, 0)] == 0
