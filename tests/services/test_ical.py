"""Writing iCalendar by hand: folding at 75 octets, escaping, CRLF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from helpline.services import ical


def unfold(text: str) -> list[str]:
    """RFC 5545 3.1 read back: a CRLF followed by one space or tab continues the line."""
    assert text.endswith("\r\n")
    return text[:-2].replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")


def test_long_lines_fold_at_75_octets_without_splitting_a_character() -> None:
    line = "SUMMARY:" + "Schicht für Überstunden – " * 8
    folded = ical.fold(line)
    pieces = folded.split("\r\n")
    assert len(pieces) > 2
    assert all(len(p.encode()) <= 75 for p in pieces)
    assert all(p.startswith(" ") for p in pieces[1:])
    assert "".join([pieces[0], *(p[1:] for p in pieces[1:])]) == line


def test_a_short_line_is_left_alone() -> None:
    assert ical.fold("VERSION:2.0") == "VERSION:2.0"
    exactly = "X" * 75
    assert ical.fold(exactly) == exactly


def test_text_values_escape_what_rfc_5545_reserves() -> None:
    assert ical.escape("a,b;c\\d\nnext") == "a\\,b\\;c\\\\d\\nnext"


def test_a_calendar_has_crlf_lines_and_each_event_its_uid_stamp_and_utc_times() -> None:
    start = datetime(2026, 3, 30, 19, tzinfo=ZoneInfo("Europe/London"))
    event = ical.Event(
        "shift-1-20260330T180000Z@example.org", start, start + timedelta(hours=3), "Shift"
    )
    text = ical.calendar("Shifts", [event], datetime(2026, 3, 1, 12, tzinfo=UTC))
    assert "\n" not in text.replace("\r\n", "")
    lines = unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and any(line.startswith("PRODID:") for line in lines)
    assert "DTSTART:20260330T180000Z" in lines and "DTEND:20260330T210000Z" in lines
    assert "DTSTAMP:20260301T120000Z" in lines
    assert "UID:shift-1-20260330T180000Z@example.org" in lines
