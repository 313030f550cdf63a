"""Who takes which waiting conversation: queue order and supporter choice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import NamedTuple

from routing.eligibility import is_within_shift, why_not_eligible
from routing.model import Assign, Conversation, Decision, RoutingSettings, Supporter, Wait
from routing.triage import CRISIS_SKILL

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PRIORITY_RANK = {"urgent": 0, "normal": 1}


def queue_order(conversations: Sequence[Conversation]) -> list[Conversation]:
    """Urgent before normal, limited (flood) texters last within a priority, then longest
    wait first, then oldest id."""
    return sorted(
        conversations,
        key=lambda c: (_PRIORITY_RANK.get(c.priority, 1), c.limited, c.waiting_since, c.id),
    )


def weight(convo: Conversation, settings: RoutingSettings) -> int:
    """How much of a supporter's limit a conversation takes: urgent ones weigh more."""
    return settings.urgent_weight if convo.priority == "urgent" else 1


def choose_supporter(
    convo: Conversation,
    supporters: Sequence[Supporter],
    now: datetime,
    settings: RoutingSettings,
    within_shift: Mapping[int, bool] | None = None,
) -> Decision:
    """Pick who takes `convo`; an urgent texter left too long without crisis-trained help is
    offered to any eligible supporter rather than kept waiting. `within_shift` may hold
    `is_within_shift` by supporter id, worked out once for many conversations; without it,
    it is worked out for the supporters that pass every other test."""
    decision = _choose(convo, supporters, now, settings, within_shift)
    if isinstance(decision, Assign) or not is_crisis_overdue(convo, now, settings):
        return decision
    relaxed = replace(convo, required_skills=convo.required_skills - {CRISIS_SKILL})
    fallback = _choose(relaxed, supporters, now, settings, within_shift)
    if isinstance(fallback, Wait):
        return decision
    waited = int((now - (convo.urgent_since or now)).total_seconds() // 60)
    reason = (
        f"no crisis-trained supporter free for {waited} min: offered to any eligible "
        f"supporter ({fallback.reason})"
    )
    return replace(
        fallback, reason=reason, passed_over=decision.passed_over, waived=frozenset({CRISIS_SKILL})
    )


def is_crisis_overdue(convo: Conversation, now: datetime, settings: RoutingSettings) -> bool:
    """An urgent texter who needs crisis-trained help and has waited past the fallback time."""
    return (
        convo.priority == "urgent"
        and CRISIS_SKILL in convo.required_skills
        and convo.urgent_since is not None
        and (now - convo.urgent_since).total_seconds() >= settings.crisis_fallback_s
    )


def _choose(
    convo: Conversation,
    supporters: Sequence[Supporter],
    now: datetime,
    settings: RoutingSettings,
    within_shift: Mapping[int, bool] | None,
) -> Decision:
    """The texter's previous supporter when eligible, else the least loaded eligible
    supporter, longest since their last assignment on a tie."""
    passed_over: dict[int, str] = {}
    eligible: list[Supporter] = []
    for supporter in supporters:
        known = None if within_shift is None else within_shift[supporter.id]
        reason = why_not_eligible(supporter, convo, now, settings, known)
        if reason is None:
            eligible.append(supporter)
        else:
            passed_over[supporter.id] = reason
    if not eligible:
        return Wait(convo.id, "no eligible supporter", passed_over)
    for supporter in eligible:
        if supporter.id == convo.previous_supporter_id:
            return Assign(convo.id, supporter.id, "texter's previous supporter", passed_over)
    best = min(eligible, key=supporter_order)
    reason = f"least loaded eligible supporter ({best.weighted_load} of {best.max_conversations})"
    return Assign(convo.id, best.id, reason, passed_over)


SupporterOrder = tuple[int, int, datetime, int]


def supporter_order(supporter: Supporter) -> SupporterOrder:
    """Who comes first among eligible supporters: the least loaded, then the fewest
    conversations, then the longest since their last assignment, then the lowest id."""
    return (
        supporter.weighted_load,
        supporter.active_conversations,
        supporter.last_assigned_at or _EPOCH,
        supporter.id,
    )


def plan_assignments(
    queued: Sequence[Conversation],
    supporters: Sequence[Supporter],
    now: datetime,
    settings: RoutingSettings,
) -> list[Decision]:
    """Serve the queue in order, counting each assignment against the supporter's load."""
    return serve(queued, supporters, now, settings).decisions


class Plan(NamedTuple):
    decisions: list[Decision]
    supporters: list[Supporter]  # as the assignments leave them
    # Every decision is the one the whole roster would give (always, without `unseen_from`).
    settled: bool


def serve(
    queued: Sequence[Conversation],
    supporters: Sequence[Supporter],
    now: datetime,
    settings: RoutingSettings,
    unseen_from: SupporterOrder | None = None,
) -> Plan:
    """`plan_assignments`, also returning the supporters as the assignments leave them, so
    that the next part of the queue (served after this one) can be planned against them.

    `supporters` may be the first of the roster in `supporter_order` only (with any texter's
    previous supporter who could take their conversation), `unseen_from` the order of the
    first one left out: the plan is settled when no one left out could have changed it."""
    pool = {s.id: s for s in supporters}
    # Assignments change a supporter's load, never their shifts: worked out once a pass.
    within_shift = {s.id: is_within_shift(s, now, settings) for s in supporters}
    decisions: list[Decision] = []
    settled = True
    for convo in queue_order(queued):
        decision = choose_supporter(convo, list(pool.values()), now, settings, within_shift)
        if unseen_from is not None and settled:
            settled = _beyond_doubt(convo, decision, pool, unseen_from)
        if isinstance(decision, Assign):
            chosen = pool[decision.supporter_id]
            pool[chosen.id] = replace(
                chosen,
                active_conversations=chosen.active_conversations + 1,
                load=chosen.weighted_load + weight(convo, settings),
                last_assigned_at=now,
            )
        decisions.append(decision)
    return Plan(decisions, list(pool.values()), settled)


def _beyond_doubt(
    convo: Conversation,
    decision: Decision,
    pool: Mapping[int, Supporter],
    unseen_from: SupporterOrder,
) -> bool:
    """Whether supporters who come at or after `unseen_from` could not change `decision`: it
    gives the texter their previous supporter, or someone who comes before all of them. A
    wait is never sure (someone unseen might take it), nor is a skill waived (nobody seen
    had it; someone unseen might)."""
    if not isinstance(decision, Assign) or decision.waived:
        return False
    if decision.supporter_id == convo.previous_supporter_id:
        return True
    return supporter_order(pool[decision.supporter_id]) < unseen_from


def free_places(supporters: Sequence[Supporter]) -> int:
    """How many more conversations these supporters could take at most (each takes at least
    one place of a limit): 0 means nobody among them can be assigned anything."""
    return sum(
        max(0, s.max_conversations - s.weighted_load) for s in supporters if s.status == "available"
    )
