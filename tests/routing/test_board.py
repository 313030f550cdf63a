"""The live board's standings and queue-health light, on known data."""

from __future__ import annotations

from datetime import timedelta

from routing.board import health, standing
from tests.routing.builders import NOW, conversation, shift, supporter


def test_an_available_supporter_on_shift_with_room_is_available():
    s = standing(supporter(max_conversations=3, active_conversations=1), NOW)
    assert (s.state, s.free, s.on_shift) == ("available", 2, True)


def test_a_supporter_at_their_limit_has_no_room():
    s = standing(supporter(max_conversations=2, active_conversations=2), NOW)
    assert (s.state, s.free) == ("at limit", 0)


def test_urgent_conversations_weigh_on_the_limit():
    s = standing(supporter(max_conversations=2, active_conversations=1, load=2), NOW)
    assert s.state == "at limit"


def test_off_shift_and_away_supporters_offer_no_room():
    later = shift(start=NOW + timedelta(hours=2))
    assert standing(supporter(shifts=(later,)), NOW).state == "off shift"
    assert standing(supporter(status="away"), NOW).state == "away"
    assert standing(supporter(status="away"), NOW).free == 0


def test_crisis_training_that_lapsed_does_not_count():
    lapsed = supporter(skills={"crisis"}, skill_expiry=(("crisis", NOW - timedelta(days=1)),))
    assert not standing(lapsed, NOW).crisis_trained
    assert standing(supporter(skills={"crisis"}), NOW).crisis_trained


def test_the_light_is_green_with_room_and_crisis_cover_and_nobody_waiting_long():
    people = [standing(supporter(skills={"crisis"}), NOW)]
    light = health([conversation(waited_min=2)], people, NOW)
    assert light.level == "green"
    assert (light.waiting, light.free_capacity, light.crisis_on) == (1, 3, 1)
    assert light.longest_wait == timedelta(minutes=2)


def test_the_light_is_amber_when_someone_has_waited_over_five_minutes():
    people = [standing(supporter(skills={"crisis"}), NOW)]
    light = health([conversation(waited_min=6)], people, NOW)
    assert light.level == "amber"
    assert light.waiting_long == 1


def test_the_light_is_red_when_an_urgent_texter_waits():
    people = [standing(supporter(skills={"crisis"}), NOW)]
    light = health([conversation(priority="urgent", waited_min=1)], people, NOW)
    assert light.level == "red"
    assert "1 urgent waiting" in light.reasons


def test_the_light_is_red_when_more_wait_than_there_is_room_for():
    people = [standing(supporter(skills={"crisis"}, max_conversations=1), NOW)]
    light = health([conversation(1), conversation(2)], people, NOW)
    assert light.level == "red"
    assert "2 waiting, room for 1" in light.reasons


def test_the_light_is_red_when_nobody_crisis_trained_is_on():
    light = health([], [standing(supporter(), NOW)], NOW)
    assert light.level == "red"
    assert light.reasons == ("nobody crisis-trained is on",)
    assert light.longest_wait is None
