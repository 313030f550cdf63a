"""Being on shift: one-off and recurring shifts, merged overlaps, and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from routing.model import ShiftRule
from routing.schedule import current_shift_end, is_on_shift, occurrences

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def weekly(start_local: datetime, hours: int, zone: str) -> ShiftRule:
    return ShiftRule(
        start_local.astimezone(UTC),
        (start_local + timedelta(hours=hours)).astimezone(UTC),
        "FREQ=WEEKLY",
        zone,
    )


def test_one_off_shift_covers_its_span_and_not_its_end() -> None:
    rule = ShiftRule(datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 1, 5, 17, tzinfo=UTC))
    assert is_on_shift([rule], datetime(2026, 1, 5, 9, tzinfo=UTC))
    assert is_on_shift([rule], datetime(2026, 1, 5, 16, 59, tzinfo=UTC))
    assert not is_on_shift([rule], datetime(2026, 1, 5, 17, tzinfo=UTC))


def test_grace_ends_eligibility_early() -> None:
    rule = ShiftRule(datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 1, 5, 17, tzinfo=UTC))
    at = datetime(2026, 1, 5, 16, 56, tzinfo=UTC)
    assert is_on_shift([rule], at)
    assert not is_on_shift([rule], at, grace=timedelta(minutes=5))


def test_weekly_evening_shift_keeps_local_time_across_us_dst() -> None:
    """18:00 in New York is 23:00 UTC in winter and 22:00 UTC in summer."""
    rule = weekly(datetime(2026, 3, 2, 18, tzinfo=NY), 3, "America/New_York")  # a Monday
    winter = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    summer = datetime(2026, 3, 9, 22, 30, tzinfo=UTC)  # after the 8 March change
    assert is_on_shift([rule], winter)
    assert is_on_shift([rule], summer)
    assert not is_on_shift([rule], datetime(2026, 3, 10, 1, 30, tzinfo=UTC))


def test_weekly_shift_keeps_local_time_across_uk_dst() -> None:
    rule = weekly(datetime(2026, 3, 22, 9, tzinfo=LONDON), 8, "Europe/London")  # a Sunday
    spans = list(
        occurrences(rule, datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    )
    assert spans == [
        (datetime(2026, 3, 29, 9, tzinfo=LONDON), datetime(2026, 3, 29, 17, tzinfo=LONDON))
    ]
    assert spans[0][0].astimezone(UTC).hour == 8  # BST began at 01:00 UTC that morning


def test_back_to_back_shifts_merge_into_one() -> None:
    first = ShiftRule(datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 1, 5, 13, tzinfo=UTC))
    second = ShiftRule(datetime(2026, 1, 5, 13, tzinfo=UTC), datetime(2026, 1, 5, 17, tzinfo=UTC))
    end = current_shift_end([second, first], datetime(2026, 1, 5, 12, tzinfo=UTC))
    assert end == datetime(2026, 1, 5, 17, tzinfo=UTC)


def test_no_shift_means_off_shift() -> None:
    assert current_shift_end([], datetime(2026, 1, 5, tzinfo=UTC)) is None


def test_a_cancelled_occurrence_is_off_shift_the_others_stand() -> None:
    first = datetime(2026, 1, 5, 9, tzinfo=UTC)
    rule = ShiftRule(
        first,
        first + timedelta(hours=8),
        "FREQ=DAILY",
        "UTC",
        cancelled=frozenset({first + timedelta(days=1)}),
    )
    assert is_on_shift([rule], first + timedelta(hours=1))
    assert not is_on_shift([rule], first + timedelta(days=1, hours=1))
    assert is_on_shift([rule], first + timedelta(days=2, hours=1))
