"""Who takes which conversation: pure decisions over plain data."""

from __future__ import annotations

from datetime import timedelta

from routing.model import Assign, RoutingSettings, Wait
from routing.policy import choose_supporter, plan_assignments, queue_order
from tests.routing.builders import NOW, conversation, shift, supporter

SETTINGS = RoutingSettings(shift_end_grace_s=300)


def test_assigns_an_available_supporter_on_shift() -> None:
    decision = choose_supporter(conversation(), [supporter(1)], NOW, SETTINGS)
    assert isinstance(decision, Assign) and decision.supporter_id == 1


def test_waits_when_nobody_is_available() -> None:
    decision = choose_supporter(conversation(), [supporter(1, status="away")], NOW, SETTINGS)
    assert isinstance(decision, Wait)
    assert decision.passed_over == {1: "status is away"}


def test_passes_over_a_supporter_at_their_limit() -> None:
    full = supporter(1, max_conversations=2, active_conversations=2)
    decision = choose_supporter(conversation(), [full], NOW, SETTINGS)
    assert isinstance(decision, Wait) and "at limit" in decision.passed_over[1]


def test_passes_over_a_supporter_missing_a_required_skill() -> None:
    convo = conversation(required_skills={"crisis", "es"})
    decision = choose_supporter(convo, [supporter(1, skills={"es"})], NOW, SETTINGS)
    assert isinstance(decision, Wait) and decision.passed_over[1] == "lacks crisis"


def test_passes_over_a_supporter_off_shift() -> None:
    later = supporter(1, shifts=(shift(NOW + timedelta(hours=1)),))
    decision = choose_supporter(conversation(), [later], NOW, SETTINGS)
    assert isinstance(decision, Wait) and "not on shift" in decision.passed_over[1]


def test_passes_over_a_supporter_inside_the_end_of_shift_grace() -> None:
    ending = supporter(1, shifts=(shift(NOW - timedelta(hours=4), hours=4 + 4 / 60),))
    decision = choose_supporter(conversation(), [ending], NOW, SETTINGS)
    assert isinstance(decision, Wait)


def test_prefers_the_least_loaded_supporter() -> None:
    busy = supporter(1, active_conversations=2)
    idle = supporter(2, active_conversations=0)
    decision = choose_supporter(conversation(), [busy, idle], NOW, SETTINGS)
    assert isinstance(decision, Assign) and decision.supporter_id == 2


def test_breaks_a_load_tie_by_longest_since_last_assignment() -> None:
    recent = supporter(1, last_assigned_at=NOW - timedelta(minutes=1))
    rested = supporter(2, last_assigned_at=NOW - timedelta(minutes=30))
    decision = choose_supporter(conversation(), [recent, rested], NOW, SETTINGS)
    assert isinstance(decision, Assign) and decision.supporter_id == 2


def test_queue_serves_urgent_before_normal_then_longest_wait() -> None:
    old_normal = conversation(1, waited_min=30)
    new_urgent = conversation(2, waited_min=1, priority="urgent")
    newer_normal = conversation(3, waited_min=5)
    assert [c.id for c in queue_order([old_normal, new_urgent, newer_normal])] == [2, 1, 3]


def test_plan_counts_each_assignment_against_the_supporters_limit() -> None:
    queued = [conversation(i, waited_min=10 - i) for i in range(1, 5)]
    plan = plan_assignments(queued, [supporter(1, max_conversations=2)], NOW, SETTINGS)
    assigned = [d.conversation_id for d in plan if isinstance(d, Assign)]
    assert assigned == [1, 2]
    assert all(isinstance(d, Wait) for d in plan[2:])


def test_plan_spreads_conversations_across_supporters() -> None:
    queued = [conversation(i) for i in range(1, 5)]
    plan = plan_assignments(queued, [supporter(1), supporter(2)], NOW, SETTINGS)
    owners = [d.supporter_id for d in plan if isinstance(d, Assign)]
    assert sorted(owners) == [1, 1, 2, 2]


def test_prefers_the_texters_previous_supporter_when_still_eligible() -> None:
    previous = supporter(1, active_conversations=2)
    idle = supporter(2)
    convo = conversation(previous_supporter_id=1)
    decision = choose_supporter(convo, [previous, idle], NOW, SETTINGS)
    assert isinstance(decision, Assign) and decision.supporter_id == 1
    assert decision.reason == "texter's previous supporter"


def test_previous_supporter_off_shift_is_not_waited_for() -> None:
    previous = supporter(1, status="offline")
    decision = choose_supporter(
        conversation(previous_supporter_id=1), [previous, supporter(2)], NOW, SETTINGS
    )
    assert isinstance(decision, Assign) and decision.supporter_id == 2


def test_an_urgent_conversation_weighs_more_against_the_limit() -> None:
    queued = [conversation(1, priority="urgent"), conversation(2)]
    plan = plan_assignments(queued, [supporter(1, max_conversations=2)], NOW, SETTINGS)
    assert [type(d) for d in plan] == [Assign, Wait]


def test_a_supporter_with_room_always_takes_one_urgent_conversation() -> None:
    plan = plan_assignments(
        [conversation(1, priority="urgent")], [supporter(1, max_conversations=1)], NOW, SETTINGS
    )
    assert isinstance(plan[0], Assign)


def test_lapsed_training_does_not_count() -> None:
    lapsed = supporter(1, skills={"crisis"}, skill_expiry=(("crisis", NOW - timedelta(days=1)),))
    current = supporter(2, skills={"crisis"}, skill_expiry=(("crisis", NOW + timedelta(days=1)),))
    decision = choose_supporter(
        conversation(required_skills={"crisis"}), [lapsed, current], NOW, SETTINGS
    )
    assert isinstance(decision, Assign) and decision.supporter_id == 2
    assert decision.passed_over[1] == "lacks crisis"


def test_conversation_language_must_be_spoken() -> None:
    english = supporter(1, languages=frozenset({"en"}))
    spanish = supporter(2, languages=frozenset({"en", "es"}))
    decision = choose_supporter(conversation(language="es"), [english, spanish], NOW, SETTINGS)
    assert isinstance(decision, Assign) and decision.supporter_id == 2


def test_a_supporter_who_let_it_time_out_is_not_offered_it_again() -> None:
    decision = choose_supporter(
        conversation(excluded_supporter_ids=frozenset({1})), [supporter(1)], NOW, SETTINGS
    )
    assert isinstance(decision, Wait)


def test_urgent_texter_waits_for_crisis_help_until_the_fallback_time() -> None:
    convo = conversation(
        priority="urgent", required_skills={"crisis"}, urgent_since=NOW - timedelta(seconds=119)
    )
    assert isinstance(choose_supporter(convo, [supporter(1)], NOW, SETTINGS), Wait)


def test_urgent_texter_is_offered_to_anyone_eligible_after_the_fallback_time() -> None:
    convo = conversation(
        priority="urgent", required_skills={"crisis"}, urgent_since=NOW - timedelta(seconds=120)
    )
    decision = choose_supporter(convo, [supporter(1)], NOW, SETTINGS)
    assert isinstance(decision, Assign) and decision.waived == frozenset({"crisis"})
    assert decision.reason.startswith("no crisis-trained supporter free for 2 min")


def test_fallback_still_needs_the_other_skills() -> None:
    convo = conversation(
        priority="urgent",
        required_skills={"crisis", "es"},
        urgent_since=NOW - timedelta(minutes=10),
    )
    assert isinstance(choose_supporter(convo, [supporter(1)], NOW, SETTINGS), Wait)
