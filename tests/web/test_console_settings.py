"""Console settings pages: routing timings in human units, texts, risk rules, programs and
canned responses. Coordinators change them through the same services as the API; every change
is audited; a refusal is a 400 page naming the reason beside the field."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from helpline.models import AuditEntry, CannedResponse, Conversation, Program, Setting
from helpline.services import programs, settings
from tests.support import Helpline
from tests.web.conftest import csrf_token, sign_in

PAGES = ["/console/settings", "/console/texts", "/console/risk", "/console/programs"]
PAGES += ["/console/canned"]


def casey(helpline: Helpline) -> None:
    assert sign_in(helpline.client, helpline.coordinator()).status_code == 302


def send(client: FlaskClient, path: str, data: dict[str, str], **kw: object) -> TestResponse:
    """Post a console form with the CSRF token a console page carries."""
    token = csrf_token(client, "/console/texts")
    return client.post(path, data={**data, "csrf_token": token}, **kw)  # type: ignore[arg-type]


def text_of(answer: TestResponse) -> str:
    return answer.get_data(as_text=True)


def current(helpline: Helpline) -> dict[str, object]:
    helpline.look_again()
    return settings.load(helpline.db)


def changes(helpline: Helpline) -> list[dict[str, object]]:
    helpline.look_again()
    rows = helpline.db.scalars(select(AuditEntry).where(AuditEntry.action == "settings.changed"))
    return [dict(r.detail or {}) for r in rows]


def routing_form(helpline: Helpline, **overrides: str) -> dict[str, str]:
    """The routing form exactly as the page fills it in, with `overrides` typed over it."""
    html = text_of(helpline.client.get("/console/settings"))
    fields = dict(re.findall(r'<input id="(\w+)" name="\w+" value="([^"]*)"', html))
    assert "first_response_timeout_s" in fields and "retention_s" in fields
    return {**fields, **overrides}


@pytest.mark.parametrize("path", PAGES)
def test_coordinators_see_every_settings_page_linked_from_the_navigation(
    helpline: Helpline, path: str
) -> None:
    casey(helpline)
    answer = helpline.client.get(path)
    assert answer.status_code == 200
    assert f'href="{path}"' in text_of(answer)


@pytest.mark.parametrize("path", PAGES)
def test_supporters_are_refused_the_settings_pages(helpline: Helpline, path: str) -> None:
    sign_in(helpline.client, helpline.supporter())
    assert helpline.client.get(path).status_code == 403
    token = csrf_token(helpline.client, "/inbox")
    assert helpline.client.post(path, data={"csrf_token": token}).status_code == 403
    assert f'href="{path}"' not in text_of(helpline.client.get("/inbox"))


def test_routing_settings_are_shown_in_human_units(helpline: Helpline) -> None:
    casey(helpline)
    form = routing_form(helpline)
    assert form["first_response_timeout_s"] == "3"  # 180 s in minutes
    assert form["return_window_s"] == "7"  # days
    assert form["inactivity_close_s"] == "60"
    assert form["urgent_weight"] == "2" and form["helpline_timezone"] == "UTC"


def test_routing_settings_saved_in_minutes_and_days_are_read_in_seconds(
    helpline: Helpline,
) -> None:
    casey(helpline)
    form = routing_form(helpline, first_response_timeout_s="1.5", return_window_s="2")
    answer = send(helpline.client, "/console/settings", form)
    assert answer.status_code == 302
    values = current(helpline)
    assert values["first_response_timeout_s"] == 90
    assert values["return_window_s"] == 2 * 86400
    assert settings.routing_settings(values).first_response_timeout_s == 90
    # Only what changed is stored: the rest keep following the built-in defaults.
    stored = set(helpline.db.scalars(select(Setting.key)))
    assert stored == {"first_response_timeout_s", "return_window_s"}
    assert changes(helpline) == [
        {"what": "settings", "keys": ["first_response_timeout_s", "return_window_s"]}
    ]


def test_bad_routing_settings_are_refused_beside_their_fields_and_nothing_is_saved(
    helpline: Helpline,
) -> None:
    casey(helpline)
    form = routing_form(
        helpline,
        shift_end_grace_s="soon",
        inactivity_close_s="-5",
        urgent_weight="11",
        helpline_timezone="Mars/Olympus",
        first_response_timeout_s="4",
    )
    answer = send(helpline.client, "/console/settings", form)
    assert answer.status_code == 400
    html = text_of(answer)
    for key, why in [
        ("shift_end_grace_s", "enter a number of minutes"),
        ("inactivity_close_s", "must be a whole number of seconds, 0 or more"),
        ("urgent_weight", "must be a whole number from 1 to 10"),
        ("helpline_timezone", "unknown time zone"),
    ]:
        assert re.search(rf'id="error-{key}">[^<]*{why}', html), key
    assert 'value="soon"' in html  # what was typed stays to be corrected
    assert current(helpline)["first_response_timeout_s"] == 180
    assert changes(helpline) == []


def test_a_huge_number_is_refused_not_a_crash(helpline: Helpline) -> None:
    casey(helpline)
    form = routing_form(helpline, retention_s="1e999999", flood_flag_after="9" * 30)
    answer = send(helpline.client, "/console/settings", form)
    assert answer.status_code == 400
    assert 'id="error-retention_s"' in text_of(answer)
    assert 'id="error-flood_flag_after"' in text_of(answer)


def test_a_changed_greeting_is_what_the_next_texter_gets(helpline: Helpline) -> None:
    casey(helpline)
    answer = send(
        helpline.client, "/console/texts", {"key": "text_greeting", "value": "Hello from us."}
    )
    assert answer.status_code == 302 and answer.headers["Location"].endswith("#text_greeting")
    assert current(helpline)["text_greeting"] == "Hello from us."
    assert helpline.text_in("hi", from_="+15550401001").status_code == 200
    helpline.run_jobs()
    assert helpline.twilio.to("+15550401001")[0]["Body"].startswith("Hello from us.")
    assert changes(helpline) == [{"what": "texts", "keys": ["text_greeting"]}]


def test_the_texts_page_lists_placeholders_and_counts_segments(helpline: Helpline) -> None:
    casey(helpline)
    html = text_of(helpline.client.get("/console/texts"))
    for key in ("text_waiting", "text_out_of_hours", "text_queue_update", "text_erased"):
        assert f'id="value-{key}"' in html
    waiting = html[html.index('id="text_waiting"') : html.index('id="text_connected"')]
    assert "{position}" in waiting and "{emergency}" in waiting
    assert 'data-counter="count-text_waiting"' in html and 'data-channel="sms"' in html
    assert "compose.js" in html and "<script>" not in html


def test_a_text_can_be_reset_to_its_default(helpline: Helpline) -> None:
    casey(helpline)
    send(helpline.client, "/console/texts", {"key": "text_closed", "value": "Bye now."})
    assert "Reset closed to default" in text_of(helpline.client.get("/console/texts"))
    answer = send(helpline.client, "/console/texts/reset", {"key": "text_closed"})
    assert answer.status_code == 302
    assert current(helpline)["text_closed"] == settings.DEFAULTS["text_closed"]
    assert helpline.db.get(Setting, "text_closed") is None
    assert changes(helpline)[-1] == {"what": "texts", "keys": ["text_closed"], "reset": True}


def test_an_empty_or_unknown_text_is_refused_with_the_reason(helpline: Helpline) -> None:
    casey(helpline)
    blank = send(helpline.client, "/console/texts", {"key": "text_closed", "value": "  "})
    assert blank.status_code == 400
    assert re.search(r'id="error-text_closed"[^>]*>[^<]*non-empty text', text_of(blank))
    unknown = send(helpline.client, "/console/texts", {"key": "retention_s", "value": "0"})
    assert unknown.status_code == 400 and "choose one of the texts" in text_of(unknown)
    reset = send(helpline.client, "/console/texts/reset", {"key": "nope"})
    assert reset.status_code == 400
    assert current(helpline)["retention_s"] == settings.DEFAULTS["retention_s"]
    assert changes(helpline) == []


def test_the_intake_question_may_be_emptied_to_stop_asking(helpline: Helpline) -> None:
    casey(helpline)
    send(helpline.client, "/console/texts", {"key": "text_intake", "value": "Are you safe?"})
    assert current(helpline)["text_intake"] == "Are you safe?"
    assert send(helpline.client, "/console/texts", {"key": "text_intake", "value": ""}).status_code
    assert current(helpline)["text_intake"] == ""


def test_the_risk_page_shows_the_built_in_categories(helpline: Helpline) -> None:
    casey(helpline)
    html = text_of(helpline.client.get("/console/risk"))
    for category in ("suicide", "self-harm", "overdose", "harm from others"):
        assert f"<summary>{category} (" in html


def test_testing_a_text_says_whether_and_why_it_is_urgent(helpline: Helpline) -> None:
    casey(helpline)
    full = send(helpline.client, "/console/risk/test", {"sample": "I want to kill myself"})
    assert full.status_code == 200
    assert 'data-verdict="urgent"' in text_of(full) and "suicide" in text_of(full)
    assert "<h1>Risk rules</h1>" in text_of(full)
    calm = send(
        helpline.client,
        "/console/risk/test",
        {"sample": "this homework is killing me"},
        headers={"HX-Request": "true"},
    )
    assert 'data-verdict="normal"' in text_of(calm) and "<h1>" not in text_of(calm)


def test_extra_phrases_make_texts_urgent(helpline: Helpline) -> None:
    casey(helpline)
    before = send(helpline.client, "/console/risk/test", {"sample": "I want to vanish"})
    assert 'data-verdict="normal"' in text_of(before)
    form = {"risk_extra_phrases": "want to vanish\r\nno way out", "intake_urgent_answers": "2, no"}
    assert send(helpline.client, "/console/risk", form).status_code == 302
    assert settings.risk_phrases(current(helpline)) == ["want to vanish", "no way out"]
    after = send(helpline.client, "/console/risk/test", {"sample": "I WANT to  vanish"})
    assert 'data-verdict="urgent"' in text_of(after) and "coordinator phrase" in text_of(after)
    assert helpline.text_in("i want to vanish", from_="+15550401002").status_code == 200
    helpline.run_jobs()
    convo = helpline.db.scalars(select(Conversation)).one()
    assert convo.priority == "urgent"
    assert changes(helpline)[-1] == {
        "what": "risk rules",
        "keys": ["intake_urgent_answers", "risk_extra_phrases"],
    }


def test_empty_intake_answers_are_refused_beside_the_field(helpline: Helpline) -> None:
    casey(helpline)
    form = {"risk_extra_phrases": "x", "intake_urgent_answers": " "}
    answer = send(helpline.client, "/console/risk", form)
    assert answer.status_code == 400
    assert 'id="error-intake_urgent_answers"' in text_of(answer)
    assert settings.risk_phrases(current(helpline)) == []


def program_form(**fields: str) -> dict[str, str]:
    return {
        "name": "Spanish line",
        "numbers": "+1 555 010 0777\nwhatsapp:+15550100778",
        "language": "es",
        "required_skills": "Spanish, youth",
        "text_greeting": "Hola, gracias por escribir.",
        "text_closed": "",
        **fields,
    }


def test_a_program_made_on_the_page_claims_its_numbers_with_its_texts(helpline: Helpline) -> None:
    casey(helpline)
    answer = send(helpline.client, "/console/programs", program_form())
    assert answer.status_code == 302
    helpline.look_again()
    program = programs.program_for(helpline.db, "+15550100777")
    assert program is not None and program.name == "Spanish line"
    assert programs.program_for(helpline.db, "whatsapp:+15550100778") is program
    assert program.required_skills == ["spanish", "youth"] and program.language == "es"
    assert program.texts == {"text_greeting": "Hola, gracias por escribir."}
    assert answer.headers["Location"].endswith(f"/console/programs/{program.id}")
    listed = text_of(helpline.client.get("/console/programs"))
    assert "Spanish line" in listed and "+15550100777" in listed
    assert changes(helpline)[-1]["what"] == "program"


def test_a_program_is_edited_and_deleted(helpline: Helpline) -> None:
    casey(helpline)
    send(helpline.client, "/console/programs", program_form())
    helpline.look_again()
    program = helpline.db.scalars(select(Program)).one()
    ident = program.id
    page = text_of(helpline.client.get(f"/console/programs/{ident}"))
    assert "Hola, gracias por escribir." in page and "+15550100777" in page
    form = program_form(numbers="+15550100779", text_greeting="", text_closed="Adiós.")
    assert send(helpline.client, f"/console/programs/{ident}", form).status_code == 302
    helpline.look_again()
    assert programs.program_for(helpline.db, "+15550100777") is None
    edited = programs.program_for(helpline.db, "+15550100779")
    assert edited is not None and edited.texts == {"text_closed": "Adiós."}
    gone = send(helpline.client, f"/console/programs/{ident}/delete", {})
    assert gone.status_code == 302
    helpline.look_again()
    assert programs.program_for(helpline.db, "+15550100779") is None
    assert changes(helpline)[-1] == {"what": "program", "id": ident, "deleted": True}


def test_bad_program_input_is_refused_beside_the_field(helpline: Helpline) -> None:
    casey(helpline)
    bad = send(helpline.client, "/console/programs", program_form(numbers="555-CALL"))
    assert bad.status_code == 400
    assert re.search(r'id="error-numbers"[^>]*>numbers must be E.164', text_of(bad))
    assert "Hola, gracias" in text_of(bad)  # the form is kept
    nameless = send(helpline.client, "/console/programs", program_form(name=" "))
    assert nameless.status_code == 400 and 'id="error-name"' in text_of(nameless)
    language = send(helpline.client, "/console/programs", program_form(language="Spanish!"))
    assert language.status_code == 400 and 'id="error-language"' in text_of(language)
    assert send(helpline.client, "/console/programs", program_form()).status_code == 302
    taken = send(helpline.client, "/console/programs", program_form(name="Other"))
    assert taken.status_code == 409 and "belongs to another program" in text_of(taken)
    helpline.look_again()
    assert len(programs.all_programs(helpline.db)) == 1
    assert helpline.client.get("/console/programs/99999").status_code == 404


def test_canned_responses_are_made_searched_edited_and_deleted(helpline: Helpline) -> None:
    casey(helpline)
    made = send(
        helpline.client,
        "/console/canned",
        {"title": "Breathing", "body": "Let's breathe together, {supporter_first_name} here."},
    )
    assert made.status_code == 302
    send(helpline.client, "/console/canned", {"title": "Goodbye", "body": "Take care."})
    helpline.look_again()
    row = helpline.db.scalars(select(CannedResponse).where(CannedResponse.title == "Breathing"))
    ident = row.one().id
    found = text_of(helpline.client.get("/console/canned?q=BREATHE"))
    assert re.findall(r'data-canned="(\d+)"', found) == [str(ident)]
    assert "{supporter_first_name}" in found  # the placeholder is explained on the page
    edit = {"title": "Breathing slowly", "body": "In for four, out for four."}
    assert send(helpline.client, f"/console/canned/{ident}", edit).status_code == 302
    helpline.look_again()
    assert helpline.db.get(CannedResponse, ident).title == "Breathing slowly"  # type: ignore[union-attr]
    gone = send(helpline.client, f"/console/canned/{ident}/delete", {})
    assert gone.status_code == 302
    helpline.look_again()
    assert helpline.db.get(CannedResponse, ident) is None
    whats = [c["what"] for c in changes(helpline)]
    assert whats == ["canned response"] * 4


def test_a_blank_canned_response_is_refused_with_the_reason(helpline: Helpline) -> None:
    casey(helpline)
    answer = send(helpline.client, "/console/canned", {"title": " ", "body": "Hi"})
    assert answer.status_code == 400
    assert "title must be 1 to 80 characters" in text_of(answer)
    assert helpline.db.scalars(select(CannedResponse)).all() == []
    assert helpline.client.get("/console/canned/4242").status_code == 404


def test_a_settings_change_over_the_api_is_audited_too(helpline: Helpline) -> None:
    coordinator = helpline.coordinator()
    answer = helpline.api("PATCH", "/settings", coordinator, json={"shift_end_grace_s": 60})
    assert answer.status_code == 200
    entries = helpline.db.scalars(select(AuditEntry).where(AuditEntry.action == "settings.changed"))
    entry = entries.one()
    assert entry.actor_id == coordinator.id and entry.path == "/api/v1/settings"
    assert entry.detail == {"what": "settings", "keys": ["shift_end_grace_s"]}


def test_settings_forms_need_the_csrf_token(helpline: Helpline) -> None:
    casey(helpline)
    answer = helpline.client.post("/console/texts", data={"key": "text_closed", "value": "x"})
    assert answer.status_code == 400
    assert current(helpline)["text_closed"] == settings.DEFAULTS["text_closed"]


def test_a_placeholder_the_text_cannot_use_is_saved_with_a_warning(helpline: Helpline) -> None:
    casey(helpline)
    form = {"key": "text_connected", "value": "You're with {supporter}."}
    answer = send(helpline.client, "/console/texts", form, follow_redirects=True)
    assert answer.status_code == 200
    assert "{supporter} is not filled in for this text" in text_of(answer)
    fine = {"key": "text_connected", "value": "Meet {supporter_name}."}
    answer = send(helpline.client, "/console/texts", fine, follow_redirects=True)
    assert "Text saved." in text_of(answer)


def test_the_audit_log_shows_what_a_change_touched(helpline: Helpline) -> None:
    casey(helpline)
    send(helpline.client, "/console/texts", {"key": "text_closed", "value": "Bye."})
    html = text_of(helpline.client.get("/console/audit?action=settings.changed"))
    assert "settings.changed" in html and "text_closed" in html
