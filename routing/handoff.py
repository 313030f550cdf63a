"""When a supporter must hand a conversation on, and when a quiet conversation closes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from routing.eligibility import current_skills
from routing.model import ActiveConversation, Close, Handoff, RoutingSettings, Supporter
from routing.schedule import current_shift_end, occurrences


def shift_ended_since(supporter: Supporter, since: datetime, now: datetime) -> bool:
    """Off shift now, having had a shift end after `since` (so a manual transfer to someone
    who never was on shift is not undone)."""
    if current_shift_end(supporter.shifts, now) is not None:
        return False
    return any(
        since < end <= now
        for rule in supporter.shifts
        for _, end in occurrences(rule, since, now + timedelta(microseconds=1))
    )


def plan_handoffs(
    active: Sequence[ActiveConversation],
    holders: Mapping[int, Supporter],
    now: datetime,
    settings: RoutingSettings,
) -> list[Handoff | Close]:
    """Every active conversation that must close or move, with the reason."""
    decisions: list[Handoff | Close] = []
    for convo in active:
        decision = decide(convo, holders.get(convo.supporter_id), now, settings)
        if decision is not None:
            decisions.append(decision)
    return decisions


def decide(
    convo: ActiveConversation, holder: Supporter | None, now: datetime, settings: RoutingSettings
) -> Handoff | Close | None:
    """The one rule that applies to `convo` now, checked in order of precedence."""
    quiet = now - convo.last_activity_at
    if quiet >= timedelta(seconds=settings.inactivity_close_s):
        return Close(convo.id, f"no texts for {_minutes(quiet)}")
    if holder is None:
        return None

    def handoff(kind: str, reason: str) -> Handoff:
        return Handoff(convo.id, holder.id, kind, reason)

    if holder.status == "offline":
        return handoff("offline", f"{holder.name} went offline")
    if shift_ended_since(holder, convo.assigned_at, now):
        return handoff("shift_end", f"{holder.name}'s shift ended")
    missing = convo.required_skills - current_skills(holder, now)
    if missing:
        return handoff(
            "needs_skill", f"needs {', '.join(sorted(missing))}, which {holder.name} lacks"
        )
    waited = now - convo.assigned_at
    if convo.first_reply_at is None and waited >= timedelta(
        seconds=settings.first_response_timeout_s
    ):
        return handoff(
            "no_first_reply", f"no first reply from {holder.name} within {_minutes(waited)}"
        )
    return None


def _minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
