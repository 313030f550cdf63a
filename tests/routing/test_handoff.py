"""Handoff rules: shift end, offline, missing skill, no first reply, and the quiet auto-close."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from routing.handoff import decide
from routing.model import ActiveConversation, Close, Handoff, Nudge, RoutingSettings
from tests.routing.builders import NOW, shift, supporter

SETTINGS = RoutingSettings(first_response_timeout_s=180, inactivity_close_s=3600)


def active(
    assigned_min_ago: float = 1, replied: bool = True, quiet_min: float = 1, **kw: Any
) -> ActiveConversation:
    assigned = NOW - timedelta(minutes=assigned_min_ago)
    values: dict[str, Any] = {
        "id": 1,
        "supporter_id": 1,
        "priority": "normal",
        "assigned_at": assigned,
        "first_reply_at": assigned if replied else None,
        "last_activity_at": NOW - timedelta(minutes=quiet_min),
    }
    values.update(kw)
    return ActiveConversation(**values)


def kind(decision: Handoff | Close | Nudge | None) -> str | None:
    if decision is None:
        return None
    if isinstance(decision, Nudge):
        return "nudge"
    return decision.kind if isinstance(decision, Handoff) else "close"


def test_nothing_happens_to_a_conversation_going_well() -> None:
    assert decide(active(), supporter(1), NOW, SETTINGS) is None


def test_supporter_going_offline_hands_on() -> None:
    assert kind(decide(active(), supporter(1, status="offline"), NOW, SETTINGS)) == "offline"


def test_away_is_not_offline_conversations_stay() -> None:
    assert decide(active(), supporter(1, status="away"), NOW, SETTINGS) is None


def test_shift_end_hands_on() -> None:
    ended = supporter(1, shifts=(shift(NOW - timedelta(hours=4), hours=3.9),))
    decision = decide(active(assigned_min_ago=60), ended, NOW, SETTINGS)
    assert kind(decision) == "shift_end" and "shift ended" in decision.reason  # type: ignore[union-attr]


def test_someone_never_on_shift_keeps_a_conversation_transferred_to_them() -> None:
    never = supporter(1, shifts=())
    assert decide(active(), never, NOW, SETTINGS) is None


def test_no_first_reply_within_the_timeout_hands_on() -> None:
    late = active(assigned_min_ago=3, replied=False)
    assert kind(decide(late, supporter(1), NOW, SETTINGS)) == "no_first_reply"
    early = active(assigned_min_ago=2.9, replied=False)
    assert decide(early, supporter(1), NOW, SETTINGS) is None


def test_urgent_conversation_leaves_a_supporter_without_crisis_training() -> None:
    urgent = active(priority="urgent", required_skills=frozenset({"crisis"}))
    assert kind(decide(urgent, supporter(1), NOW, SETTINGS)) == "needs_skill"
    assert decide(urgent, supporter(1, skills={"crisis"}), NOW, SETTINGS) is None


def test_quiet_conversation_closes_after_the_inactivity_limit() -> None:
    assert kind(decide(active(quiet_min=60), supporter(1), NOW, SETTINGS)) == "close"
    assert decide(active(quiet_min=59), supporter(1), NOW, SETTINGS) is None


def test_reasons_name_the_supporter_in_plain_words() -> None:
    decision = decide(active(), supporter(1, name="Sam", status="offline"), NOW, SETTINGS)
    assert isinstance(decision, Handoff) and decision.reason == "Sam went offline"


def test_shift_end_is_judged_in_the_shifts_zone_across_dst() -> None:
    """A weekly 18:00-22:00 New York shift ends at 02:00 UTC after the March change."""
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    first = datetime(2026, 3, 2, 18, tzinfo=ny)
    rule = shift(first, hours=4, rrule="FREQ=WEEKLY", timezone="America/New_York")
    holder = supporter(1, shifts=(rule,))
    end_after_dst = datetime(2026, 3, 10, 2, 0, tzinfo=ZoneInfo("UTC"))
    convo = active(
        assigned_at=end_after_dst - timedelta(hours=1),
        last_activity_at=end_after_dst - timedelta(minutes=1),
    )
    assert decide(convo, holder, end_after_dst - timedelta(minutes=1), SETTINGS) is None
    assert (
        kind(decide(convo, holder, end_after_dst + timedelta(minutes=1), SETTINGS)) == "shift_end"
    )


def test_shift_end_is_a_warm_handoff_other_rules_are_cold() -> None:
    ended = supporter(1, shifts=(shift(NOW - timedelta(hours=4), hours=3.9),))
    decision = decide(active(assigned_min_ago=60), ended, NOW, SETTINGS)
    assert isinstance(decision, Handoff) and decision.warm
    offline = decide(active(), supporter(1, status="offline"), NOW, SETTINGS)
    assert isinstance(offline, Handoff) and not offline.warm


def test_pending_offer_waits_then_expires() -> None:
    offered = active(offered_to_id=2, offered_at=NOW - timedelta(seconds=119))
    assert decide(offered, supporter(1, status="offline"), NOW, SETTINGS) is None
    expired = active(offered_to_id=2, offered_at=NOW - timedelta(seconds=120))
    assert kind(decide(expired, supporter(1), NOW, SETTINGS)) == "offer_expired"


def test_quiet_supporter_is_nudged_once_then_handed_on() -> None:
    texted = NOW - timedelta(minutes=5)
    waiting = active(last_inbound_at=texted, last_reply_at=texted - timedelta(minutes=1))
    assert isinstance(decide(waiting, supporter(1), NOW, SETTINGS), Nudge)
    nudged = replace(waiting, nudged_at=NOW - timedelta(minutes=1))
    assert decide(nudged, supporter(1), NOW, SETTINGS) is None
    later = replace(
        nudged,
        last_inbound_at=NOW - timedelta(minutes=10),
        last_reply_at=NOW - timedelta(minutes=11),
        nudged_at=NOW - timedelta(minutes=5),
    )
    assert kind(decide(later, supporter(1), NOW, SETTINGS)) == "quiet"


def test_supporter_who_replied_last_is_not_nudged() -> None:
    replied = active(
        last_inbound_at=NOW - timedelta(minutes=20), last_reply_at=NOW - timedelta(minutes=19)
    )
    assert decide(replied, supporter(1), NOW, SETTINGS) is None
