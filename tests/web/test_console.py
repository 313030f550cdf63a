"""The coordinator console: live board, reassigning, roster, calendar with coverage, audit log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from helpline.models import AuditEntry, Conversation, ConversationEvent, User
from helpline.services import shifts
from routing.coverage import week_start
from tests.support import PASSWORD, Helpline
from tests.web.conftest import csrf_token, post_form, sign_in

PAGES = ["/console", "/console/roster", "/console/calendar", "/console/audit", "/console/jobs"]


def queued(helpline: Helpline, number: str, body: str = "hello") -> Conversation:
    """A conversation waiting in the queue (nobody is on shift to take it)."""
    assert helpline.text_in(body, from_=number).status_code == 200
    helpline.run_jobs()
    convo = next(c for c in helpline.db.scalars(select(Conversation)) if c.texter.address == number)
    assert convo.status == "queued"
    return convo


def casey(helpline: Helpline) -> User:
    coordinator = helpline.coordinator()
    assert sign_in(helpline.client, coordinator).status_code == 302
    return coordinator


def page(client: FlaskClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True)


@pytest.mark.parametrize("path", PAGES)
def test_console_pages_send_strangers_to_sign_in(client: FlaskClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


@pytest.mark.parametrize("path", PAGES)
def test_supporters_are_refused_the_console(helpline: Helpline, path: str) -> None:
    sign_in(helpline.client, helpline.supporter())
    assert helpline.client.get(path).status_code == 403


def test_the_inbox_links_coordinators_to_the_console_and_not_supporters(
    helpline: Helpline,
) -> None:
    sign_in(helpline.client, helpline.supporter())
    assert "/console" not in page(helpline.client, "/inbox")
    casey(helpline)
    assert 'href="/console"' in page(helpline.client, "/inbox")


def test_the_live_board_shows_the_queue_urgent_first_by_alias_never_the_number(
    helpline: Helpline,
) -> None:
    calm = queued(helpline, "+15550301001", "hi, can we talk")
    urgent = queued(helpline, "+15550301002", "i want to kill myself")
    casey(helpline)
    html = page(helpline.client, "/console")
    assert "5550301001" not in html and "5550301002" not in html
    rows = re.findall(r'<tr class="(\w+)" data-conversation="(\d+)"', html)
    assert rows == [("urgent", str(urgent.id)), ("normal", str(calm.id))]
    assert 'data-level="red"' in html and "1 urgent waiting" in html
    assert re.search(r'data-figure="waiting">2<', html)
    assert re.search(r'data-figure="urgent">1<', html)


def test_the_live_board_shows_each_supporters_standing_and_load(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers", max_conversations=1, skills=["crisis"])
    helpline.supporter("Ivy Chen", on_shift=False, status="away")
    helpline.text_in("hello", from_="+15550301003")
    helpline.run_jobs()
    casey(helpline)
    html = page(helpline.client, "/console")
    sam_row = re.search(rf'data-supporter="{sam.id}">(.*?)</tr>', html, re.S)
    assert sam_row and "at limit" in sam_row.group(1) and "1 / 1" in sam_row.group(1)
    assert re.search(r'class="state-away" data-supporter="\d+">\s*<td>Ivy Chen', html)
    assert re.search(r'data-figure="crisis">1<', html)  # Sam is on, at limit, crisis-trained


def test_htmx_refreshes_get_only_the_board(helpline: Helpline) -> None:
    casey(helpline)
    full = page(helpline.client, "/console")
    assert 'hx-trigger="live-refresh, every 30s"' in full  # the stream, else a slow poll
    partial = helpline.client.get("/console", headers={"HX-Request": "true"})
    body = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in body and "Queue health" in body


def test_reassigning_a_queued_conversation_hands_it_to_that_supporter(helpline: Helpline) -> None:
    convo = queued(helpline, "+15550301004")
    sam = helpline.supporter("Sam Rivers", on_shift=False, status="away")
    coordinator = casey(helpline)
    path = f"/console/conversations/{convo.id}/reassign"
    assert "Sam Rivers" in page(helpline.client, path)
    answer = post_form(
        helpline.client, path, {"supporter_id": str(sam.id), "note": "she asked for Sam"}, path
    )
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/console")
    helpline.look_again()
    convo = helpline.db.get(Conversation, convo.id)
    assert convo is not None and (convo.status, convo.supporter_id) == ("active", sam.id)
    event = helpline.db.scalars(
        select(ConversationEvent).where(
            ConversationEvent.conversation_id == convo.id, ConversationEvent.kind == "transferred"
        )
    ).one()
    assert (event.actor_id, event.note) == (coordinator.id, "she asked for Sam")
    helpline.run_jobs()
    assert any("Sam" in m["Body"] for m in helpline.twilio.to("+15550301004"))


def test_reassigning_needs_the_csrf_token(helpline: Helpline) -> None:
    convo = queued(helpline, "+15550301005")
    sam = helpline.supporter(on_shift=False)
    casey(helpline)
    answer = helpline.client.post(
        f"/console/conversations/{convo.id}/reassign", data={"supporter_id": str(sam.id)}
    )
    assert answer.status_code == 400
    helpline.look_again()
    assert helpline.db.get(Conversation, convo.id).status == "queued"  # type: ignore[union-attr]


@pytest.mark.parametrize("choice", ["", "abc", "999999", "99999999999999999999"])
def test_reassigning_to_nobody_known_is_a_400_with_a_reason(
    helpline: Helpline, choice: str
) -> None:
    convo = queued(helpline, "+15550301006")
    casey(helpline)
    path = f"/console/conversations/{convo.id}/reassign"
    answer = post_form(helpline.client, path, {"supporter_id": choice}, path)
    assert answer.status_code == 400
    assert "Choose someone" in answer.get_data(as_text=True)


def test_reassigning_a_conversation_nobody_has_is_a_404(helpline: Helpline) -> None:
    casey(helpline)
    path = "/console/conversations/987654/reassign"
    assert helpline.client.get(path).status_code == 404


def test_the_roster_lists_people_with_skills_languages_limit_zone_and_state(
    helpline: Helpline,
) -> None:
    helpline.supporter(
        "Sam Rivers",
        skills=["crisis", "youth"],
        languages=["en", "es"],
        max_conversations=4,
        timezone="America/Chicago",
    )
    casey(helpline)
    html = page(helpline.client, "/console/roster")
    row = re.search(r"<td>Sam Rivers</td>(.*?)</tr>", html, re.S)
    assert row is not None
    cells = re.findall(r"<td>([^<]*)</td>", row.group(1))
    assert cells[1:7] == ["supporter", "crisis, youth", "en, es", "4", "America/Chicago", "yes"]


def test_a_coordinator_adds_a_supporter_who_can_sign_in_with_the_first_password(
    helpline: Helpline,
) -> None:
    casey(helpline)
    form = {
        "name": "Noor Haddad",
        "email": "noor@example.org",
        "password": "first-pass-123",
        "role": "supporter",
        "skills": "crisis, lgbtq",
        "languages": "ar, en",
        "max_conversations": "2",
        "timezone": "Europe/London",
    }
    answer = post_form(helpline.client, "/console/roster", form, "/console/roster")
    assert answer.status_code == 302
    helpline.look_again()
    noor = helpline.db.scalars(select(User).where(User.email == "noor@example.org")).one()
    assert (noor.skills, noor.languages, noor.max_conversations, noor.timezone) == (
        ["crisis", "lgbtq"],
        ["ar", "en"],
        2,
        "Europe/London",
    )
    other = helpline.app.test_client()
    assert sign_in(other, noor, password="first-pass-123").status_code == 302


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"email": "sam@example.org"}, 409, "already exists"),
        ({"password": "short"}, 400, "password must be 8"),
        ({"max_conversations": "lots"}, 400, "max_conversations"),
        ({"timezone": "Mars/Olympus"}, 400, "Mars/Olympus"),
        ({"role": "admin"}, 400, "role must be"),
    ],
)
def test_adding_someone_with_bad_fields_says_why(
    helpline: Helpline, change: dict[str, str], status: int, reason: str
) -> None:
    helpline.supporter(email="sam@example.org")
    casey(helpline)
    form = {"name": "New Person", "email": "new@example.org", "password": PASSWORD, **change}
    answer = post_form(helpline.client, "/console/roster", form, "/console/roster")
    assert answer.status_code == status
    assert reason in answer.get_data(as_text=True)


def test_deactivating_a_supporter_signs_them_out_and_hands_their_conversations_on(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("hello", from_="+15550301007")
    helpline.run_jobs()
    convo = helpline.db.scalars(select(Conversation).where(Conversation.supporter_id == sam.id))
    held = convo.one()
    sams_browser = helpline.app.test_client()
    sign_in(sams_browser, sam)
    casey(helpline)
    path = f"/console/roster/{sam.id}/deactivate"
    assert post_form(helpline.client, path, {}, "/console/roster").status_code == 302
    helpline.run_jobs()
    helpline.db.refresh(sam)
    after = helpline.db.get(Conversation, held.id)
    assert not sam.is_active and sam.status == "offline"
    assert after is not None and after.supporter_id != sam.id and after.status == "queued"
    assert sams_browser.get("/inbox").status_code == 302
    assert "deactivated" in page(helpline.client, "/console/roster")


def test_a_coordinator_cannot_deactivate_themselves(helpline: Helpline) -> None:
    me = casey(helpline)
    post_form(helpline.client, f"/console/roster/{me.id}/deactivate", {}, "/console/roster")
    helpline.db.refresh(me)
    assert me.is_active


def test_the_calendar_shows_capacity_per_hour_and_unknown_demand_without_history(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter("Sam Rivers", on_shift=False, max_conversations=3, skills=["crisis"])
    ivy = helpline.supporter("Ivy Chen", on_shift=False, max_conversations=2)
    monday = week_start(datetime.now(UTC).date()) + timedelta(days=14)
    at = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    shifts.create_shift(helpline.db, sam.id, at.replace(hour=9), at.replace(hour=13))
    shifts.create_shift(
        helpline.db, ivy.id, at.replace(hour=11), at.replace(hour=15), rrule="FREQ=DAILY"
    )
    helpline.db.commit()
    casey(helpline)
    html = page(helpline.client, f"/console/calendar?week={monday.isoformat()}")

    def cell(day: int, hour: int) -> str:
        key = f"{(monday + timedelta(days=day)).isoformat()}T{hour:02d}"
        found = re.search(rf'<td class="([^"]*)"\s+data-cell="{key}" data-capacity="(\d+)"', html)
        assert found, key
        return f"{found.group(2)} {found.group(1)}"

    assert cell(0, 8).startswith("0 ") and "no-crisis" in cell(0, 8)
    assert cell(0, 9).startswith("3 ") and "no-crisis" not in cell(0, 9)
    assert cell(0, 12).startswith("5 ")
    assert cell(0, 14).startswith("2 ") and "no-crisis" in cell(0, 14)
    assert cell(3, 11).startswith("2 ")  # Ivy's daily shift, Thursday
    assert 'data-demand="2' not in html and 'data-demand="unknown"' in html
    assert "Ivy Chen" in html and "Sam Rivers" in html


def test_the_calendar_learns_demand_from_past_conversations(helpline: Helpline) -> None:
    convo = queued(helpline, "+15550301008")
    # It came a week and two hours ago: its hour of the week has been seen whole once since.
    convo.created_at = datetime.now(UTC) - timedelta(days=7, hours=2)
    helpline.db.commit()
    casey(helpline)
    html = page(helpline.client, "/console/calendar")
    demands = re.findall(r'data-demand="([^"]+)"', html)
    assert demands.count("1.00") == 1
    assert "0.00" in demands and "unknown" not in demands  # every hour seen since then


@pytest.mark.parametrize("week", ["tuesday", "0001-01-01", "9999-12-31"])
def test_a_bad_week_is_a_400(helpline: Helpline, week: str) -> None:
    casey(helpline)
    assert helpline.client.get(f"/console/calendar?week={week}").status_code == 400


def test_the_audit_log_filters_by_conversation_and_action(helpline: Helpline) -> None:
    one = queued(helpline, "+15550301009")
    two = queued(helpline, "+15550301010")
    coordinator = casey(helpline)
    assert helpline.client.get(f"/inbox/conversations/{one.id}").status_code == 200
    assert helpline.client.get(f"/inbox/conversations/{two.id}").status_code == 200
    html = page(helpline.client, f"/console/audit?conversation_id={one.id}")
    rows = re.findall(r'data-entry="(\d+)"', html)
    helpline.look_again()
    expected = helpline.db.scalars(
        select(AuditEntry.id)
        .where(AuditEntry.conversation_id == one.id)
        .order_by(AuditEntry.id.desc())
    ).all()
    assert rows == [str(i) for i in expected] and rows
    assert coordinator.name in html
    denied = page(helpline.client, "/console/audit?action=access.denied")
    assert "No entries match." in denied


def test_the_audit_log_refuses_a_bad_filter(helpline: Helpline) -> None:
    casey(helpline)
    assert helpline.client.get("/console/audit?conversation_id=x").status_code == 400


def test_the_audit_log_is_read_only(helpline: Helpline) -> None:
    casey(helpline)
    token = csrf_token(helpline.client, "/console/audit")
    answer = helpline.client.post("/console/audit", data={"csrf_token": token})
    assert answer.status_code == 405


def test_a_weekly_shift_added_on_the_calendar_covers_that_hour_every_week(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter("Sam Rivers", on_shift=False, max_conversations=4)
    casey(helpline)
    monday = week_start(datetime.now(UTC).date()) + timedelta(days=7)
    form = {
        "supporter_id": str(sam.id),
        "day": (monday + timedelta(days=2)).isoformat(),
        "starts": "18:00",
        "ends": "22:00",
        "repeat": "weekly",
    }
    answer = post_form(helpline.client, "/console/calendar/shifts", form, "/console/calendar")
    assert answer.status_code == 302
    assert f"week={monday.isoformat()}" in answer.headers["Location"]
    for week in (monday, monday + timedelta(days=7)):
        html = page(helpline.client, f"/console/calendar?week={week.isoformat()}")
        wednesday = (week + timedelta(days=2)).isoformat()
        capacities = dict(re.findall(r'data-cell="([^"]+)" data-capacity="(\d+)"', html))
        assert [h for h in range(24) if capacities[f"{wednesday}T{h:02d}"] == "4"] == [
            18,
            19,
            20,
            21,
        ]


def test_a_shift_past_midnight_ends_the_next_day(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers", on_shift=False)
    casey(helpline)
    day = week_start(datetime.now(UTC).date()) + timedelta(days=7)
    form = {"supporter_id": str(sam.id), "day": day.isoformat(), "starts": "22:00", "ends": "02:00"}
    post_form(helpline.client, "/console/calendar/shifts", form, "/console/calendar")
    found = shifts.list_occurrences(
        helpline.db,
        datetime(day.year, day.month, day.day, tzinfo=UTC),
        datetime.max.replace(tzinfo=UTC),
    )
    assert [(o.ends_at - o.starts_at) for o in found] == [timedelta(hours=4)]


@pytest.mark.parametrize(
    "change",
    [{"supporter_id": ""}, {"starts": "25:00"}, {"repeat": "hourly"}, {"supporter_id": "99999"}],
)
def test_a_shift_without_a_supporter_or_a_sound_time_is_a_400(
    helpline: Helpline, change: dict[str, str]
) -> None:
    sam = helpline.supporter("Sam Rivers", on_shift=False)
    casey(helpline)
    form = {"supporter_id": str(sam.id), "day": "2026-03-02", "starts": "09:00", "ends": "12:00"}
    answer = post_form(
        helpline.client, "/console/calendar/shifts", {**form, **change}, "/console/calendar"
    )
    assert answer.status_code == 400
    assert "Choose a supporter" in answer.get_data(as_text=True)
    assert (
        shifts.list_occurrences(
            helpline.db, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)
        )
        == []
    )


def test_cancelling_one_occurrence_leaves_the_rest_of_the_series(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers", on_shift=False)
    monday = week_start(datetime.now(UTC).date()) + timedelta(days=7)
    start = datetime(monday.year, monday.month, monday.day, 9, tzinfo=UTC)
    shift = shifts.create_shift(
        helpline.db, sam.id, start, start + timedelta(hours=3), "FREQ=DAILY"
    )
    helpline.db.commit()
    casey(helpline)
    tuesday = start + timedelta(days=1)
    path = f"/console/calendar/shifts/{shift.id}/cancel"
    answer = post_form(
        helpline.client, path, {"occurrence": tuesday.isoformat()}, "/console/calendar"
    )
    assert answer.status_code == 302
    helpline.look_again()
    week = shifts.list_occurrences(helpline.db, start, start + timedelta(days=7))
    assert [o.starts_at.date() for o in week] == [
        (start + timedelta(days=d)).date() for d in (0, 2, 3, 4, 5, 6)
    ]
    wrong = post_form(helpline.client, path, {"occurrence": "yesterday"}, "/console/calendar")
    assert wrong.status_code == 400
