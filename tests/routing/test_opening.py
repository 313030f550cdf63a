"""Out of hours: is anyone scheduled now, and when does the line open next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from routing.model import ShiftRule
from routing.schedule import anyone_on_shift, next_opening

MONDAY_NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)


def test_next_opening_is_the_earliest_future_start() -> None:
    evening = ShiftRule(MONDAY_NOON + timedelta(hours=6), MONDAY_NOON + timedelta(hours=9))
    weekly = ShiftRule(
        MONDAY_NOON - timedelta(days=6),
        MONDAY_NOON - timedelta(days=6, hours=-2),
        "FREQ=WEEKLY",
        "UTC",
    )  # Tuesdays at noon
    assert next_opening([evening, weekly], MONDAY_NOON) == MONDAY_NOON + timedelta(hours=6)
    assert next_opening([weekly], MONDAY_NOON) == MONDAY_NOON + timedelta(days=1)


def test_no_shift_ahead_means_no_opening() -> None:
    past = ShiftRule(MONDAY_NOON - timedelta(days=1), MONDAY_NOON - timedelta(hours=20))
    assert next_opening([past], MONDAY_NOON) is None
    assert not anyone_on_shift([past], MONDAY_NOON)
