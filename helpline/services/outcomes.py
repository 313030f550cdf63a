"""How a conversation ended: a fixed set of slugs a supporter chooses from when closing.

Coordinators' reports count these, so a slug, once published, is never renamed or reused;
the labels may be reworded freely.
"""

from __future__ import annotations

OUTCOMES: dict[str, str] = {
    "supported": "Supported: talked it through",
    "referred": "Referred to another service",
    "safety_plan": "Safety plan made",
    "emergency": "Emergency services involved",
    "texter_left": "Texter left (stopped replying)",
    "prank_abuse": "Prank or abuse",
    "other": "Other",
}

# The texter is not asked how it went after these.
NO_SURVEY = frozenset({"prank_abuse", "emergency"})


def is_outcome(value: object) -> bool:
    """One of the published slugs."""
    return isinstance(value, str) and value in OUTCOMES


def reason_for_unknown() -> str:
    return "outcome must be one of: " + ", ".join(OUTCOMES)
