"""Properties of a routing pass over random rosters, shifts and arrivals (hypothesis)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.eligibility import current_skills, why_not_eligible
from routing.model import Assign, Conversation, Decision, RoutingSettings, Supporter, Wait
from routing.policy import choose_supporter, plan_assignments, queue_order, weight
from routing.schedule import is_on_shift
from tests.routing.builders import NOW, shift

SKILLS = ("crisis", "youth", "es")
SETTINGS = RoutingSettings(shift_end_grace_s=300, urgent_weight=2)


@st.composite
def supporters(draw: st.DrawFn, ident: int) -> Supporter:
    start = NOW + timedelta(minutes=draw(st.integers(-600, 120)))
    return Supporter(
        id=ident,
        name=f"S{ident}",
        status=draw(st.sampled_from(["available", "available", "away", "offline"])),
        skills=frozenset(draw(st.sets(st.sampled_from(SKILLS)))),
        max_conversations=draw(st.integers(0, 4)),
        active_conversations=0,
        load=draw(st.integers(0, 4)),
        shifts=(shift(start, hours=draw(st.integers(1, 10))),),
    )


@st.composite
def conversations(draw: st.DrawFn, ident: int, roster_size: int) -> Conversation:
    return Conversation(
        id=ident,
        priority=draw(st.sampled_from(["normal", "normal", "urgent"])),
        waiting_since=NOW - timedelta(seconds=draw(st.integers(0, 3600))),
        required_skills=frozenset(draw(st.sets(st.sampled_from(SKILLS), max_size=2))),
        previous_supporter_id=draw(st.none() | st.integers(1, max(roster_size, 1))),
    )


Scenario = tuple[list[Supporter], list[Conversation]]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    roster_size = draw(st.integers(0, 8))
    roster = [draw(supporters(i)) for i in range(1, roster_size + 1)]
    queue = [draw(conversations(i, roster_size)) for i in range(1, draw(st.integers(0, 25)) + 1)]
    return roster, queue


def replay(
    roster: list[Supporter], queue: list[Conversation]
) -> Iterator[tuple[Decision, Conversation, dict[int, Supporter]]]:
    """Walk the plan in queue order, yielding each decision with the roster as it stood then."""
    pool = {s.id: s for s in roster}
    by_id = {c.id: c for c in queue}
    for decision in plan_assignments(queue, roster, NOW, SETTINGS):
        convo = by_id[decision.conversation_id]
        yield decision, convo, dict(pool)
        if isinstance(decision, Assign):
            s = pool[decision.supporter_id]
            pool[s.id] = replace(
                s,
                active_conversations=s.active_conversations + 1,
                load=s.weighted_load + weight(convo, SETTINGS),
                last_assigned_at=NOW,
            )


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_assignments_respect_status_shift_capacity_and_skills(scenario: Scenario) -> None:
    roster, queue = scenario
    for decision, convo, pool in replay(roster, queue):
        if isinstance(decision, Assign):
            chosen = pool[decision.supporter_id]
            assert chosen.status == "available"
            assert chosen.weighted_load < chosen.max_conversations
            assert convo.required_skills <= current_skills(chosen, NOW)
            assert is_on_shift(chosen.shifts, NOW, timedelta(seconds=SETTINGS.shift_end_grace_s))


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_a_conversation_waits_only_when_nobody_is_eligible(scenario: Scenario) -> None:
    roster, queue = scenario
    for decision, convo, pool in replay(roster, queue):
        if isinstance(decision, Wait):
            assert all(why_not_eligible(s, convo, NOW, SETTINGS) for s in pool.values())


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_urgent_first_then_longest_wait(scenario: Scenario) -> None:
    roster, queue = scenario
    plan = plan_assignments(queue, roster, NOW, SETTINGS)
    assert [d.conversation_id for d in plan] == [c.id for c in queue_order(queue)]
    ranks = [(0 if c.priority == "urgent" else 1, c.waiting_since) for c in queue_order(queue)]
    assert ranks == sorted(ranks)


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_previous_supporter_is_chosen_whenever_eligible(scenario: Scenario) -> None:
    roster, queue = scenario
    for decision, convo, pool in replay(roster, queue):
        previous = pool.get(convo.previous_supporter_id or -1)
        if previous is not None and why_not_eligible(previous, convo, NOW, SETTINGS) is None:
            assert isinstance(decision, Assign) and decision.supporter_id == previous.id


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_a_pass_decides_as_one_conversation_at_a_time_would(scenario: Scenario) -> None:
    """A pass works out who is on shift once for all its conversations: each decision is the
    one choose_supporter makes alone, working it out itself, against the roster as it stood."""
    roster, queue = scenario
    for decision, convo, pool in replay(roster, queue):
        assert choose_supporter(convo, list(pool.values()), NOW, SETTINGS) == decision
