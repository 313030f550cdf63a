"""When a supporter must hand a conversation on, and when a quiet conversation closes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from routing.eligibility import current_skills
from routing.model import ActiveConversation, Close, Handoff, Nudge, RoutingSettings, Supporter
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
) -> list[Handoff | Close | Nudge]:
    """Every active conversation that must close, move or nudge its supporter, and why."""
    decisions: list[Handoff | Close | Nudge] = []
    for convo in active:
        decision = decide(convo, holders.get(convo.supporter_id), now, settings)
        if decision is not None:
            decisions.append(decision)
    return decisions


def decide(
    convo: ActiveConversation, holder: Supporter | None, now: datetime, settings: RoutingSettings
) -> Handoff | Close | Nudge | None:
    """The one rule that applies to `convo` now, checked in order of precedence."""
    quiet = now - convo.last_activity_at
    if quiet >= timedelta(seconds=settings.inactivity_close_s):
        return Close(convo.id, f"no texts for {_minutes(quiet)}")
    if holder is None:
        return None
    if convo.offered_to_id is not None:
        return _offer_expiry(convo, holder, now, settings)

    def handoff(kind: str, reason: str, warm: bool = False) -> Handoff:
        return Handoff(convo.id, holder.id, kind, reason, warm)

    if holder.status == "offline":
        return handoff("offline", f"{holder.name} went offline")
    if shift_ended_since(holder, convo.assigned_at, now):
        return handoff("shift_end", f"{holder.name}'s shift ended", warm=True)
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
    return _quiet_supporter(convo, holder, now, settings)


def _offer_expiry(
    convo: ActiveConversation, holder: Supporter, now: datetime, settings: RoutingSettings
) -> Handoff | None:
    """A warm offer nobody accepted in time goes back to the front of the queue."""
    offered_at = convo.offered_at or now
    if now - offered_at < timedelta(seconds=settings.offer_timeout_s):
        return None
    return Handoff(
        convo.id,
        holder.id,
        "offer_expired",
        f"handoff not accepted within {_minutes(now - offered_at)}",
    )


def _quiet_supporter(
    convo: ActiveConversation, holder: Supporter, now: datetime, settings: RoutingSettings
) -> Handoff | Nudge | None:
    """The texter wrote last and the supporter has gone quiet: nudge, then hand on."""
    if convo.first_reply_at is None or convo.last_inbound_at is None:
        return None
    if convo.last_reply_at is not None and convo.last_reply_at >= convo.last_inbound_at:
        return None
    waiting = now - convo.last_inbound_at
    nudged = convo.nudged_at is not None and convo.nudged_at >= convo.last_inbound_at
    if nudged and waiting >= timedelta(seconds=settings.quiet_handoff_s):
        return Handoff(
            convo.id,
            holder.id,
            "quiet",
            f"texter waited {_minutes(waiting)} for {holder.name}'s reply",
        )
    if not nudged and waiting >= timedelta(seconds=settings.quiet_nudge_s):
        return Nudge(convo.id, holder.id, f"texter has waited {_minutes(waiting)} for a reply")
    return None


def _minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
