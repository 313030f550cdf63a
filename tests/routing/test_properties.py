"""Properties of a routing pass over random rosters, shifts and arrivals (hypothesis)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from routing.eligibility import current_skills, why_not_eligible
from routing.model import Assign, Conversation, Decision, RoutingSettings, Supporter, Wait
from routing.policy import (
    choose_supporter,
    plan_assignments,
    queue_order,
    serve,
    supporter_order,
    weight,
)
from routing.schedule import is_on_shift
from tests.routing import builders
from tests.routing.builders import NOW, shift

SKILLS = ("crisis", "youth", "es")
SETTINGS = RoutingSettings(shift_end_grace_s=300, urgent_weight=2)
HOUR = timedelta(hours=1)


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


@st.composite
def busy_lines(draw: st.DrawFn) -> Scenario:
    """Mostly free supporters on shift, last assigned at various times (some at once), and a
    queue of texters of whom few had a supporter before (each one's is read whatever its
    order): the pass reads a few of many who could take each conversation."""
    moments = st.none() | st.integers(0, 3).map(lambda m: NOW - timedelta(minutes=10 * m))
    roster = []
    for ident in range(1, draw(st.integers(2, 10)) + 1):
        limit = draw(st.integers(2, 4))
        skills = draw(st.sets(st.sampled_from(["youth", "es"])))
        if draw(st.integers(0, 3)) == 0:  # crisis-trained: a few
            skills.add("crisis")
        roster.append(
            Supporter(
                id=ident,
                name=f"S{ident}",
                status=draw(st.sampled_from(["available"] * 5 + ["away"])),
                skills=frozenset(skills),
                max_conversations=limit,
                active_conversations=0,
                load=draw(st.integers(0, limit - 1)),
                shifts=(shift(NOW - timedelta(minutes=draw(st.sampled_from([30] * 5 + [-60])))),),
                last_assigned_at=draw(moments),
            )
        )
    queue = []
    for ident in range(1, draw(st.integers(1, 5)) + 1):
        convo = draw(conversations(ident, len(roster)))
        if draw(st.sampled_from([True, True, True, False])):
            convo = replace(convo, previous_supporter_id=None)
        if draw(st.sampled_from([True, True, False])):
            convo = replace(convo, required_skills=frozenset())
        elif convo.priority == "urgent" and draw(st.booleans()):  # waited past the fallback
            convo = replace(convo, required_skills=frozenset({"crisis"}), urgent_since=NOW - HOUR)
        queue.append(convo)
    return roster, queue


def key(decision: Decision) -> tuple[object, ...]:
    """A decision without its passed-over list (which names only the supporters considered)."""
    supporter = decision.supporter_id if isinstance(decision, Assign) else None
    waived = decision.waived if isinstance(decision, Assign) else None
    return type(decision), decision.conversation_id, supporter, decision.reason, waived


# Two passes that must read past the first supporter: the second conversation would make her
# busier than the one after her; the urgent texter needs crisis-trained help she lacks.
SECOND_COMES_FIRST: Scenario = (
    [builders.supporter(1), builders.supporter(2)],
    [builders.conversation(1, waited_min=5), builders.conversation(2, waited_min=3)],
)
CRISIS_FURTHER_ON: Scenario = (
    [builders.supporter(1), builders.supporter(2, load=1, skills={"crisis"})],
    [
        builders.conversation(
            1, priority="urgent", required_skills={"crisis"}, urgent_since=NOW - HOUR
        )
    ],
)

# ... and had the first as their supporter before: it is still the crisis-trained one.
CRISIS_FURTHER_ON_NOT_THE_PREVIOUS_ONE: Scenario = (
    CRISIS_FURTHER_ON[0],
    [replace(CRISIS_FURTHER_ON[1][0], previous_supporter_id=1)],
)


@settings(max_examples=300, deadline=None)
@given(busy_lines(), st.integers(1, 4))
@example(SECOND_COMES_FIRST, 1)
@example(CRISIS_FURTHER_ON, 1)
@example(CRISIS_FURTHER_ON_NOT_THE_PREVIOUS_ONE, 1)
def test_a_plan_against_the_first_supporters_that_is_settled_is_the_whole_rosters(
    scenario: Scenario, first: int
) -> None:
    """As a routing pass reads them: the supporters with room in `supporter_order`, the first
    `first` of them and every texter's previous supporter, the ones off shift left out. When
    the plan against those is settled, it is the plan against all of them; with everyone
    read, it is always settled."""
    roster, queue = scenario
    grace = timedelta(seconds=SETTINGS.shift_end_grace_s)
    with_room = sorted(
        (s for s in roster if s.status == "available" and s.weighted_load < s.max_conversations),
        key=supporter_order,
    )
    previous = {c.previous_supporter_id for c in queue}
    read = with_room[:first] + [s for s in with_room[first:] if s.id in previous]
    on_shift = [s for s in read if is_on_shift(s.shifts, NOW, grace)]
    unseen_from = supporter_order(with_room[first]) if len(with_room) > first else None
    plan = serve(queue, on_shift, NOW, SETTINGS, unseen_from)
    everyone = [s for s in with_room if is_on_shift(s.shifts, NOW, grace)]
    whole = serve(queue, everyone, NOW, SETTINGS)
    assert whole.settled
    if plan.settled:
        assert [key(d) for d in plan.decisions] == [key(d) for d in whole.decisions]
