"""Each person's private calendar feed: their shifts as RFC 5545 iCalendar, behind a token
only they and coordinators can make, and nothing about texters."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from helpline.models import AuditEntry, User
from helpline.services import shifts
from tests.support import Helpline
from tests.web.conftest import post_form, sign_in
from tests.web.test_console import casey

_LINK = re.compile(r'value="https?://[^/"]+(/calendar/[^"]+\.ics)"')


def new_link(client: FlaskClient, path: str) -> str:
    """Make a new feed address on `path` and read it off the page (shown only then)."""
    answer = post_form(client, path, {}, path)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    match = _LINK.search(answer.get_data(as_text=True))
    assert match, "no feed address on the page"
    return match.group(1)


def events(body: bytes) -> list[dict[str, str]]:
    """The VEVENTs of an iCalendar body, unfolded, each as its properties by name."""
    text = body.decode()
    assert "\n" not in text.replace("\r\n", ""), "every line ends in CRLF"
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n")), "folded at 75 octets"
    lines = text.replace("\r\n ", "").split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2:] == ["END:VCALENDAR", ""]
    found: list[dict[str, str]] = []
    for line in lines:
        if line == "BEGIN:VEVENT":
            found.append({})
        elif found and ":" in line and line != "END:VEVENT":
            name, value = line.split(":", 1)
            found[-1][name] = value
    return found


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def test_my_feed_lists_my_shifts_as_they_now_stand_and_nothing_else(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers", on_shift=False)
    ivy = helpline.supporter("Ivy Chen", on_shift=False)
    start = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1)
    weekly = shifts.create_shift(
        helpline.db, sam.id, start, start + timedelta(hours=3), "FREQ=WEEKLY"
    )
    shifts.create_shift(helpline.db, ivy.id, start, start + timedelta(hours=3))
    shifts.cancel_occurrence(helpline.db, weekly, start + timedelta(weeks=1))
    moved_to = start + timedelta(weeks=2, days=1)
    shifts.move_shift(
        helpline.db, weekly, start + timedelta(weeks=2), moved_to, moved_to + timedelta(hours=2)
    )
    helpline.db.commit()
    number = "+15550001111"
    helpline.text_in("hello there", from_=number)
    helpline.run_jobs()
    sign_in(helpline.client, sam)
    path = new_link(helpline.client, "/inbox/calendar-feed")
    anonymous = helpline.app.test_client()
    answer = anonymous.get(path)
    assert answer.status_code == 200
    assert answer.mimetype == "text/calendar"
    found = events(answer.data)
    starts = [e["DTSTART"] for e in found]
    assert starts[:3] == [stamp(start), stamp(moved_to), stamp(start + timedelta(weeks=3))]
    assert stamp(start + timedelta(weeks=1)) not in starts  # cancelled
    assert len(starts) == 11  # twelve weeks ahead, one cancelled
    assert all(e["DTEND"].endswith("Z") and e["UID"].endswith("@helpline.test") for e in found)
    assert len({e["UID"] for e in found}) == len(found)
    assert all({"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"} <= e.keys() for e in found)
    assert number not in answer.get_data(as_text=True) and "hello" not in answer.get_data(
        as_text=True
    )


def test_resetting_the_link_kills_the_old_one(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers", on_shift=False)
    sign_in(helpline.client, sam)
    first = new_link(helpline.client, "/inbox/calendar-feed")
    second = new_link(helpline.client, "/inbox/calendar-feed")
    anonymous = helpline.app.test_client()
    assert anonymous.get(first).status_code == 404
    assert anonymous.get(second).status_code == 200
    page = helpline.client.get("/inbox/calendar-feed").get_data(as_text=True)
    assert "A feed address exists" in page and ".ics" not in page  # never shown again
    stored = helpline.db.scalar(select(User.calendar_token_hash).where(User.id == sam.id))
    assert stored is not None and stored not in second  # only a hash is kept


def test_a_coordinator_makes_a_link_for_someone_from_the_roster(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers", on_shift=False)
    coordinator = casey(helpline)
    path = new_link(helpline.client, f"/console/roster/{sam.id}/calendar-feed")
    assert helpline.app.test_client().get(path).status_code == 200
    entry = helpline.db.scalars(
        select(AuditEntry).where(AuditEntry.action == "calendar_feed.reset")
    ).one()
    assert entry.actor_id == coordinator.id and entry.detail == {"user_id": sam.id}


def test_a_deactivated_persons_feed_is_gone(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers", on_shift=False)
    casey(helpline)
    path = new_link(helpline.client, f"/console/roster/{sam.id}/calendar-feed")
    post_form(helpline.client, f"/console/roster/{sam.id}/deactivate", {}, "/console/roster")
    assert helpline.app.test_client().get(path).status_code == 404


def test_guessing_feed_tokens_is_slowed_down(helpline: Helpline) -> None:
    anonymous = helpline.app.test_client()
    answers = [anonymous.get(f"/calendar/guess{n}.ics").status_code for n in range(21)]
    assert answers == [404] * 20 + [429]
