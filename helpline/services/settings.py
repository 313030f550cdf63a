"""Routing settings and the texts sent to texters: built-in defaults, overridden in the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpline.db import MAX_INTEGER
from helpline.models import Setting
from routing.flood import FloodPolicy
from routing.model import RoutingSettings

DEFAULTS: dict[str, Any] = {
    "first_response_timeout_s": 180,
    "shift_end_grace_s": 300,
    "inactivity_close_s": 3600,
    "return_window_s": 7 * 24 * 3600,
    "urgent_weight": 2,
    "crisis_fallback_s": 120,
    "queue_update_interval_s": 300,
    "quiet_nudge_s": 300,
    "quiet_handoff_s": 600,
    "offer_timeout_s": 120,
    "flood_window_s": 3600,
    "flood_flag_after": 3,
    "flood_limit_after": 6,
    "flood_texts_per_minute": 20,
    "text_greeting": "Thanks for texting. You've reached a peer support line.",
    "text_waiting": "You're number {position} in line. A trained peer supporter will text you "
    "as soon as they can. If you are in danger right now, {emergency}",
    "text_connected": "You're now connected with {supporter_name}, a trained peer supporter.",
    "text_handed_off": "Your conversation is being passed to another supporter, who will see "
    "what you've shared so far.",
    "text_closed": "This conversation has ended. You can text us again any time.",
    "text_out_of_hours": "Nobody is on the line right now. We open again {opening}; your text is "
    "kept and a supporter will reply then. If you are in danger now, {emergency}",
    "text_queue_update": "You're number {position} in line{estimate}. Thank you for waiting; "
    "we haven't forgotten you.",
    # Phrases that show risk of harm beyond the built-in rules, one per line (may be empty).
    "risk_extra_phrases": "",
    # Asked while a texter waits (empty: not asked); programs can set their own.
    "text_intake": "",
    # Intake answers that make a conversation urgent, separated by commas.
    "intake_urgent_answers": "2, no, not safe",
    "emergency_numbers": "call your local emergency number.",
    "helpline_timezone": "UTC",
    # Closed conversations are purged this long after closing (0: kept until erased).
    "retention_s": 90 * 24 * 3600,
    "text_erase_confirm": "To erase everything you have texted us, and your number, text DELETE "
    "again within 15 minutes. This cannot be undone.",
    "text_erased": "Everything you texted us, and your number, has been erased. You can text "
    "us again any time.",
}

SECONDS_KEYS = (
    "first_response_timeout_s",
    "shift_end_grace_s",
    "inactivity_close_s",
    "return_window_s",
    "crisis_fallback_s",
    "queue_update_interval_s",
    "flood_window_s",
    "quiet_nudge_s",
    "quiet_handoff_s",
    "offer_timeout_s",
    "retention_s",
)
# Whole-number settings and their bounds.
COUNT_KEYS = {
    "urgent_weight": (1, 10),
    "flood_flag_after": (1, 1000),
    "flood_limit_after": (1, 1000),
    "flood_texts_per_minute": (1, 1000),
}


class SettingsError(ValueError):
    """A settings change was refused; the message says which key and why."""


def load(session: Session) -> dict[str, Any]:
    """Every setting: defaults overlaid with what coordinators have changed."""
    values = dict(DEFAULTS)
    for row in session.scalars(select(Setting)):
        if row.key in DEFAULTS:
            values[row.key] = row.value
    return values


def flood_policy(values: dict[str, Any]) -> FloodPolicy:
    return FloodPolicy(
        window_s=int(values["flood_window_s"]),
        flag_after=int(values["flood_flag_after"]),
        limit_after=int(values["flood_limit_after"]),
        texts_per_minute=int(values["flood_texts_per_minute"]),
    )


def routing_settings(values: dict[str, Any]) -> RoutingSettings:
    return RoutingSettings(
        shift_end_grace_s=int(values["shift_end_grace_s"]),
        first_response_timeout_s=int(values["first_response_timeout_s"]),
        inactivity_close_s=int(values["inactivity_close_s"]),
        urgent_weight=int(values["urgent_weight"]),
        crisis_fallback_s=int(values["crisis_fallback_s"]),
        quiet_nudge_s=int(values["quiet_nudge_s"]),
        quiet_handoff_s=int(values["quiet_handoff_s"]),
        offer_timeout_s=int(values["offer_timeout_s"]),
    )


def update(session: Session, changes: dict[str, Any]) -> dict[str, Any]:
    """Validate and store `changes`; refuse unknown keys and wrong types."""
    for key, value in changes.items():
        check(key, value)
    for key, value in changes.items():
        session.merge(Setting(key=key, value=value))
    session.flush()
    return load(session)


def reset(session: Session, key: str) -> dict[str, Any]:
    """Go back to the built-in default for `key` (forget the coordinators' value)."""
    if key not in DEFAULTS:
        raise SettingsError(f"unknown setting {key!r}")
    row = session.get(Setting, key)
    if row is not None:
        session.delete(row)
        session.flush()
    return load(session)


def check(key: str, value: object) -> None:
    """Raise SettingsError unless `value` is acceptable for setting `key`."""
    if key not in DEFAULTS:
        raise SettingsError(f"unknown setting {key!r}")
    whole = isinstance(value, int) and not isinstance(value, bool)
    if key in SECONDS_KEYS:
        if not whole or not 0 <= value <= MAX_INTEGER:  # type: ignore[operator]
            raise SettingsError(f"{key} must be a whole number of seconds, 0 or more")
    elif key in COUNT_KEYS:
        low, high = COUNT_KEYS[key]
        if not whole or not low <= value <= high:  # type: ignore[operator]
            raise SettingsError(f"{key} must be a whole number from {low} to {high}")
    elif key == "helpline_timezone":
        _check_zone(value)
    elif key in ("text_intake", "risk_extra_phrases") and value == "":
        return  # empty switches the feature off
    elif not isinstance(value, str) or not value.strip() or len(value) > 1000:
        raise SettingsError(f"{key} must be a non-empty text of at most 1000 characters")


def risk_phrases(values: dict[str, Any]) -> list[str]:
    return [line for line in str(values["risk_extra_phrases"]).splitlines() if line.strip()]


def _check_zone(value: object) -> None:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"helpline_timezone: unknown time zone {value!r}") from exc


def opening_phrase(values: dict[str, Any], opening: datetime | None) -> str:
    """'on Tuesday at 18:00' in the helpline's zone, or a plain word when nothing is planned."""
    if opening is None:
        return "as soon as a supporter is scheduled"
    local = opening.astimezone(ZoneInfo(str(values["helpline_timezone"])))
    return local.strftime("on %A at %H:%M")


def render(values: dict[str, Any], name: str, **fields: object) -> str:
    """Fill a texter-facing text; a broken placeholder falls back to the default text."""
    try:
        return str(values[f"text_{name}"]).format(**fields)
    except (KeyError, IndexError, ValueError):
        return str(DEFAULTS[f"text_{name}"]).format(**fields)
