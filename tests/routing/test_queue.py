"""Wait estimates and how often a waiting texter hears from us."""

from __future__ import annotations

from datetime import timedelta

from routing.queue import estimate_wait, is_update_due
from tests.routing.builders import NOW


def test_estimate_follows_the_recent_service_rate() -> None:
    every_ten_minutes = [NOW - timedelta(minutes=m) for m in range(0, 60, 10)]  # 6 an hour
    assert estimate_wait(1, every_ten_minutes, NOW) == timedelta(minutes=10)
    assert estimate_wait(3, every_ten_minutes, NOW) == timedelta(minutes=30)


def test_estimate_is_rounded_up_to_five_minutes_and_never_below() -> None:
    busy = [NOW - timedelta(minutes=m) for m in range(60)]  # one a minute
    assert estimate_wait(1, busy, NOW) == timedelta(minutes=5)
    assert estimate_wait(7, busy, NOW) == timedelta(minutes=10)


def test_no_estimate_without_enough_recent_service() -> None:
    assert estimate_wait(1, [NOW - timedelta(minutes=5)] * 2, NOW) is None
    old = [NOW - timedelta(hours=2)] * 10
    assert estimate_wait(1, old, NOW) is None


def test_updates_are_spaced_out() -> None:
    interval = timedelta(minutes=5)
    assert is_update_due(None, NOW, interval)
    assert not is_update_due(NOW - timedelta(minutes=4), NOW, interval)
    assert is_update_due(NOW - timedelta(minutes=5), NOW, interval)
