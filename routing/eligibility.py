"""Who may take a conversation, and if not, why not."""

from __future__ import annotations

from datetime import datetime, timedelta

from routing.model import Conversation, RoutingSettings, Supporter
from routing.schedule import is_on_shift


def current_skills(supporter: Supporter, now: datetime) -> frozenset[str]:
    """The supporter's skills whose training has not lapsed at `now`."""
    lapsed = {skill for skill, until in supporter.skill_expiry if until <= now}
    return supporter.skills - lapsed


def is_within_shift(supporter: Supporter, now: datetime, settings: RoutingSettings) -> bool:
    """On shift at `now`, and not inside the end-of-shift grace."""
    return is_on_shift(supporter.shifts, now, timedelta(seconds=settings.shift_end_grace_s))


def why_not_eligible(
    supporter: Supporter,
    convo: Conversation,
    now: datetime,
    settings: RoutingSettings,
    within_shift: bool | None = None,
) -> str | None:
    """The first reason `supporter` cannot take `convo` now, or None when they can.

    `within_shift` is `is_within_shift` when the caller has worked it out already: a routing
    pass does once for each supporter, not once for each supporter and conversation."""
    if supporter.id in convo.excluded_supporter_ids:
        return "handed this conversation on already"
    if supporter.status != "available":
        return f"status is {supporter.status}"
    if supporter.weighted_load >= supporter.max_conversations:
        return f"at limit ({supporter.weighted_load}/{supporter.max_conversations})"
    missing = convo.required_skills - current_skills(supporter, now)
    if missing:
        return "lacks " + ", ".join(sorted(missing))
    if convo.language and convo.language not in supporter.languages:
        return f"does not speak {convo.language}"
    if within_shift is None:
        within_shift = is_within_shift(supporter, now, settings)
    if not within_shift:
        return "not on shift (or inside the end-of-shift grace)"
    return None
