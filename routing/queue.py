"""What a waiting texter is told: an honest estimate from the recent service rate."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

RATE_WINDOW = timedelta(hours=1)


def estimate_wait(
    position: int,
    recent_assignments: Sequence[datetime],
    now: datetime,
    window: timedelta = RATE_WINDOW,
) -> timedelta | None:
    """How long until `position` is served, at the rate conversations were taken in the last
    `window`; None when too few were taken to say (an estimate we cannot stand behind is
    worse than none)."""
    served = [at for at in recent_assignments if now - window <= at <= now]
    if len(served) < 3:
        return None
    per_minute = len(served) / (window.total_seconds() / 60)
    minutes = position / per_minute
    # Round up to 5 minutes: "about 10 minutes" promises less than "about 7".
    return timedelta(minutes=max(5, 5 * math.ceil(minutes / 5)))


def is_update_due(last_told: datetime | None, now: datetime, interval: timedelta) -> bool:
    """Texters hear from us at most once per `interval` while they wait."""
    return last_told is None or now - last_told >= interval
