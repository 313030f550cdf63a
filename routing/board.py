"""The coordinator's live board: where each supporter stands, and whether the line needs help."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from routing.eligibility import current_skills
from routing.model import Conversation, Supporter
from routing.schedule import is_on_shift
from routing.triage import CRISIS_SKILL

LONG_WAIT = timedelta(minutes=5)


@dataclass(frozen=True)
class Standing:
    """One supporter as the board shows them."""

    supporter: Supporter
    on_shift: bool
    state: str  # available | at limit | away | offline | off shift
    free: int  # conversations they could still take now
    crisis_trained: bool


@dataclass(frozen=True)
class Health:
    level: str  # green | amber | red
    waiting: int
    free_capacity: int
    waiting_long: int
    urgent_waiting: int
    crisis_on: int
    reasons: tuple[str, ...]
    longest_wait: timedelta | None


def standing(supporter: Supporter, now: datetime) -> Standing:
    """Whether `supporter` could take a conversation now, and if not, the plain reason."""
    on_shift = is_on_shift(supporter.shifts, now)
    room = max(0, supporter.max_conversations - supporter.weighted_load)
    if supporter.status != "available":
        state = supporter.status
    elif not on_shift:
        state = "off shift"
    elif room == 0:
        state = "at limit"
    else:
        state = "available"
    return Standing(
        supporter=supporter,
        on_shift=on_shift,
        state=state,
        free=room if state == "available" else 0,
        crisis_trained=CRISIS_SKILL in current_skills(supporter, now),
    )


def health(queue: Sequence[Conversation], people: Sequence[Standing], now: datetime) -> Health:
    """Red when urgent texters wait, more wait than there is room for, or no crisis-trained
    supporter is on; amber when anyone has waited over five minutes or no room is left."""
    free = sum(p.free for p in people)
    urgent = sum(1 for c in queue if c.priority == "urgent")
    waits = [now - c.waiting_since for c in queue]
    long = sum(1 for w in waits if w > LONG_WAIT)
    crisis_on = sum(1 for p in people if p.crisis_trained and p.state in ("available", "at limit"))
    red = []
    if urgent:
        red.append(f"{urgent} urgent waiting")
    if len(queue) > free:
        red.append(f"{len(queue)} waiting, room for {free}")
    if crisis_on == 0:
        red.append("nobody crisis-trained is on")
    amber = []
    if long:
        amber.append(f"{long} waiting over {int(LONG_WAIT.total_seconds() // 60)} minutes")
    if free == 0 and not queue:
        amber.append("no room for the next texter")
    level = "red" if red else "amber" if amber else "green"
    return Health(
        level=level,
        waiting=len(queue),
        free_capacity=free,
        waiting_long=long,
        urgent_waiting=urgent,
        crisis_on=crisis_on,
        reasons=tuple(red + amber) or ("room for the next texter",),
        longest_wait=max(waits, default=None),
    )
