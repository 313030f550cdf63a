"""What the console says about each setting and text: labels, units and help. Words only; the
rules for what a value may be live in services.settings."""

from __future__ import annotations

from dataclasses import dataclass

UNITS = {"minutes": 60, "hours": 3600, "days": 86400}


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    help: str
    unit: str = ""  # a key of UNITS for settings kept in seconds; "" for counts and words


@dataclass(frozen=True)
class Group:
    title: str
    fields: tuple[Field, ...]


ROUTING = (
    Group(
        "Answering texters",
        (
            Field(
                "first_response_timeout_s",
                "First response timeout",
                "A supporter who sends no first reply this long after being connected hands the "
                "texter on to someone else (or back to the front of the queue).",
                "minutes",
            ),
            Field(
                "quiet_nudge_s",
                "Quiet supporter nudge",
                "A supporter who has not answered the texter's last text for this long is "
                "nudged: a reminder shows in the conversation.",
                "minutes",
            ),
            Field(
                "quiet_handoff_s",
                "Quiet supporter handoff",
                "After the nudge, a supporter still quiet this long hands the texter on.",
                "minutes",
            ),
            Field(
                "offer_timeout_s",
                "Handoff offer timeout",
                "A warm handoff offered to a supporter and not accepted this long goes back to "
                "the queue instead.",
                "minutes",
            ),
            Field(
                "inactivity_close_s",
                "Inactivity close",
                "A conversation where nobody has written for this long is closed, and the "
                "texter gets the 'closed' text.",
                "minutes",
            ),
            Field(
                "return_window_s",
                "Return window",
                "A texter who writes again within this long after a conversation goes back to "
                "their previous supporter when that supporter can take them.",
                "days",
            ),
            Field(
                "queue_update_interval_s",
                "Queue update interval",
                "How often a waiting texter is told their place in line again (the 'queue "
                "update' text).",
                "minutes",
            ),
        ),
    ),
    Group(
        "Shifts and urgent texters",
        (
            Field(
                "shift_end_grace_s",
                "Shift-end grace",
                "Within this long of the end of their shift a supporter gets no new texters; "
                "when the shift ends, what they still hold is handed on.",
                "minutes",
            ),
            Field(
                "crisis_fallback_s",
                "Crisis fallback",
                "An urgent texter who has waited this long with no crisis-trained supporter "
                "free is offered to any eligible supporter, and coordinators are alerted.",
                "minutes",
            ),
            Field(
                "urgent_weight",
                "Weight of an urgent conversation",
                "How many ordinary conversations an urgent one counts as against a supporter's "
                "limit (1 to 10).",
            ),
            Field(
                "helpline_timezone",
                "Helpline time zone",
                "The IANA zone name (like Europe/London) the calendar and the 'we open again "
                "on …' text use.",
            ),
        ),
    ),
    Group(
        "Floods of texts",
        (
            Field(
                "flood_window_s",
                "Flood window",
                "The span over which the conversations a texter opens are counted.",
                "minutes",
            ),
            Field(
                "flood_flag_after",
                "Flag after",
                "A texter who opens this many conversations within the window is flagged for "
                "coordinators.",
            ),
            Field(
                "flood_limit_after",
                "Limit after",
                "A texter who opens this many within the window is limited: still served, and "
                "their texts kept, but after everyone else.",
            ),
            Field(
                "flood_texts_per_minute",
                "Texts per minute before batching",
                "Past this many texts a minute, routing runs on its regular tick instead of "
                "once per text.",
            ),
        ),
    ),
    Group(
        "Keeping records",
        (
            Field(
                "retention_s",
                "Keep closed conversations for",
                "Closed conversations are deleted this long after closing; 0 keeps them until "
                "a texter asks to be erased.",
                "days",
            ),
        ),
    ),
)


@dataclass(frozen=True)
class Text:
    key: str
    label: str
    when: str
    placeholders: tuple[tuple[str, str], ...] = ()


TEXTS = (
    Text("text_greeting", "Greeting", "Sent first to a texter who starts a new conversation."),
    Text(
        "text_waiting",
        "Waiting, with their place",
        "Sent when a texter joins the queue while someone is on shift.",
        (
            ("{position}", "their place in line: 1, 2, …"),
            ("{emergency}", "the emergency numbers text below"),
        ),
    ),
    Text(
        "text_connected",
        "Connected",
        "Sent when a supporter takes the conversation.",
        (("{supporter_name}", "the supporter's first name"),),
    ),
    Text(
        "text_handed_off",
        "Handed off",
        "Sent when the conversation passes to another supporter (followed by 'connected').",
    ),
    Text("text_closed", "Closed", "Sent when the conversation ends."),
    Text(
        "text_out_of_hours",
        "Out of hours",
        "Sent instead of 'waiting' when nobody is on shift.",
        (
            ("{opening}", "when the line opens next, like 'on Tuesday at 18:00'"),
            ("{emergency}", "the emergency numbers text below"),
        ),
    ),
    Text(
        "text_queue_update",
        "Queue update",
        "Sent again to a texter still waiting, every queue update interval.",
        (
            ("{position}", "their place in line"),
            ("{estimate}", "' (about 10 minutes)' when a wait can be estimated, else nothing"),
        ),
    ),
    Text(
        "text_intake",
        "Intake question",
        "Added to the first 'waiting' text of a new conversation; empty: not asked. Answers "
        "listed on the risk rules page make the conversation urgent.",
    ),
    Text(
        "text_erase_confirm",
        "Erase: asking to confirm",
        "Sent when a texter texts DELETE, asking them to confirm.",
    ),
    Text("text_erased", "Erase: done", "Sent once everything the texter sent is erased."),
    Text(
        "emergency_numbers",
        "Emergency numbers",
        "Put into the 'waiting' and 'out of hours' texts where {emergency} is written.",
    ),
)
TEXT_KEYS = tuple(t.key for t in TEXTS)
# Opting out (STOP) is confirmed by Twilio itself: the helpline sends nothing after it.
