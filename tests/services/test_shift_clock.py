"""Time left in a supporter's shift, and when they are warned that it is ending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helpline.models import utcnow
from helpline.services import shifts
from tests.support import Helpline

NOW = datetime(2026, 3, 2, 21, 50, tzinfo=UTC)


def test_time_left_runs_to_the_end_of_the_merged_shift(helpline: Helpline) -> None:
    """Back-to-back shifts count as one: time left runs to the end of the second."""
    ada = helpline.supporter("Ada Byron", on_shift=False)
    shifts.create_shift(helpline.db, ada.id, NOW - timedelta(hours=2), NOW + timedelta(minutes=10))
    shifts.create_shift(helpline.db, ada.id, NOW + timedelta(minutes=10), NOW + timedelta(hours=1))
    clock = shifts.shift_clock(helpline.db, ada, NOW)
    assert clock.ends_at == NOW + timedelta(hours=1)
    assert clock.left == timedelta(hours=1)


def test_off_shift_has_no_time_left(helpline: Helpline) -> None:
    ada = helpline.supporter("Ada Byron", on_shift=False)
    shifts.create_shift(helpline.db, ada.id, NOW + timedelta(hours=1), NOW + timedelta(hours=3))
    clock = shifts.shift_clock(helpline.db, ada, NOW)
    assert clock.ends_at is None and clock.left is None and not clock.needs_heads_up


def test_heads_up_only_near_the_end_and_with_conversations_open(helpline: Helpline) -> None:
    """Warned within 15 minutes of the end, and only while someone still talks to them."""
    sam = helpline.supporter()  # on shift until four hours from now
    end = shifts.shift_clock(helpline.db, sam, utcnow()).ends_at
    assert end is not None
    assert not shifts.shift_clock(helpline.db, sam, end - timedelta(minutes=14)).needs_heads_up
    helpline.text_in("are you there")
    helpline.run_jobs()
    clock = shifts.shift_clock(helpline.db, sam, end - timedelta(minutes=14))
    assert clock.open_conversations == 1 and clock.needs_heads_up
    assert not shifts.shift_clock(helpline.db, sam, end - timedelta(minutes=16)).needs_heads_up
