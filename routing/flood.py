"""A texter who opens very many conversations, or sends a flood of texts, is flagged, then
limited: their texts are always kept and they are still served, after everyone else."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FloodPolicy:
    window_s: int = 3600
    flag_after: int = 3  # conversations opened (or reopened) in the window
    limit_after: int = 6
    texts_per_minute: int = 20


def flood_level(openings_in_window: int, policy: FloodPolicy) -> str:
    """'limited', 'flagged' or 'none' for a texter who opened this many conversations."""
    if openings_in_window >= policy.limit_after:
        return "limited"
    if openings_in_window >= policy.flag_after:
        return "flagged"
    return "none"


def is_text_flood(texts_last_minute: int, policy: FloodPolicy) -> bool:
    """Too many texts in a minute to run a routing pass for each; the tick routes instead."""
    return texts_last_minute > policy.texts_per_minute
