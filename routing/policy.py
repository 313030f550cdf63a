"""Who takes which waiting conversation: queue order and supporter choice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from routing.eligibility import why_not_eligible
from routing.model import Assign, Conversation, Decision, RoutingSettings, Supporter, Wait

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PRIORITY_RANK = {"urgent": 0, "normal": 1}


def queue_order(conversations: Sequence[Conversation]) -> list[Conversation]:
    """Urgent before normal, then longest wait first, then oldest id."""
    return sorted(
        conversations,
        key=lambda c: (_PRIORITY_RANK.get(c.priority, 1), c.waiting_since, c.id),
    )


def weight(convo: Conversation, settings: RoutingSettings) -> int:
    """How much of a supporter's limit a conversation takes: urgent ones weigh more."""
    return settings.urgent_weight if convo.priority == "urgent" else 1


def choose_supporter(
    convo: Conversation, supporters: Sequence[Supporter], now: datetime, settings: RoutingSettings
) -> Decision:
    """Pick who takes `convo`: the texter's previous supporter when eligible, else the least
    loaded eligible supporter, longest since their last assignment on a tie."""
    passed_over: dict[int, str] = {}
    eligible: list[Supporter] = []
    for supporter in supporters:
        reason = why_not_eligible(supporter, convo, now, settings)
        if reason is None:
            eligible.append(supporter)
        else:
            passed_over[supporter.id] = reason
    if not eligible:
        return Wait(convo.id, "no eligible supporter", passed_over)
    for supporter in eligible:
        if supporter.id == convo.previous_supporter_id:
            return Assign(convo.id, supporter.id, "texter's previous supporter", passed_over)
    best = min(
        eligible,
        key=lambda s: (s.weighted_load, s.active_conversations, s.last_assigned_at or _EPOCH, s.id),
    )
    reason = f"least loaded eligible supporter ({best.weighted_load} of {best.max_conversations})"
    return Assign(convo.id, best.id, reason, passed_over)


def plan_assignments(
    queued: Sequence[Conversation],
    supporters: Sequence[Supporter],
    now: datetime,
    settings: RoutingSettings,
) -> list[Decision]:
    """Serve the queue in order, counting each assignment against the supporter's load."""
    pool = {s.id: s for s in supporters}
    decisions: list[Decision] = []
    for convo in queue_order(queued):
        decision = choose_supporter(convo, list(pool.values()), now, settings)
        if isinstance(decision, Assign):
            chosen = pool[decision.supporter_id]
            pool[chosen.id] = replace(
                chosen,
                active_conversations=chosen.active_conversations + 1,
                load=chosen.weighted_load + weight(convo, settings),
                last_assigned_at=now,
            )
        decisions.append(decision)
    return decisions
