"""The graduated flood policy: flagged, then limited; limited texters are served last."""

from __future__ import annotations

from routing.flood import FloodPolicy, flood_level, is_text_flood
from routing.policy import queue_order
from tests.routing.builders import conversation

POLICY = FloodPolicy(flag_after=3, limit_after=6, texts_per_minute=20)


def test_levels_rise_with_the_number_of_conversations() -> None:
    assert [flood_level(n, POLICY) for n in (1, 2, 3, 5, 6, 50)] == [
        "none",
        "none",
        "flagged",
        "flagged",
        "limited",
        "limited",
    ]


def test_a_text_flood_is_more_than_the_per_minute_allowance() -> None:
    assert not is_text_flood(20, POLICY)
    assert is_text_flood(21, POLICY)


def test_limited_texters_wait_behind_others_of_their_priority_but_urgent_still_first() -> None:
    limited_old = conversation(1, waited_min=60, limited=True)
    normal_new = conversation(2, waited_min=1)
    limited_urgent = conversation(3, waited_min=1, priority="urgent", limited=True)
    assert [c.id for c in queue_order([limited_old, normal_new, limited_urgent])] == [3, 2, 1]
