"""Who may take a conversation, and if not, why not."""

from __future__ import annotations

from datetime import datetime, timedelta

from routing.model import Conversation, RoutingSettings, Supporter
from routing.schedule import is_on_shift


def why_not_eligible(
    supporter: Supporter, convo: Conversation, now: datetime, settings: RoutingSettings
) -> str | None:
    """The first reason `supporter` cannot take `convo` now, or None when they can."""
    if supporter.status != "available":
        return f"status is {supporter.status}"
    if supporter.active_conversations >= supporter.max_conversations:
        return f"at limit ({supporter.active_conversations}/{supporter.max_conversations})"
    missing = convo.required_skills - supporter.skills
    if missing:
        return "lacks " + ", ".join(sorted(missing))
    if not is_on_shift(supporter.shifts, now, timedelta(seconds=settings.shift_end_grace_s)):
        return "not on shift (or inside the end-of-shift grace)"
    return None
