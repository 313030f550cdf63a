"""The supporter's web inbox: sign in, see only my conversations, reply, close, presence."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from helpline.db import transaction
from helpline.models import Conversation, Message, Texter, User
from tests.support import Helpline
from tests.web.conftest import csrf_token, post_form, sign_in


def conversation_for(helpline: Helpline, number: str, body: str = "hello") -> Conversation:
    helpline.text_in(body, from_=number)
    helpline.run_jobs()
    return next(c for c in helpline.db.scalars(select(Conversation)) if c.texter.address == number)


def test_sign_in_leads_to_the_inbox(helpline: Helpline) -> None:
    sam = helpline.supporter()
    answer = sign_in(helpline.client, sam)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/inbox")
    assert "My conversations" in helpline.client.get("/inbox").get_data(as_text=True)


def test_wrong_password_and_unknown_email_get_the_same_answer(helpline: Helpline) -> None:
    sam = helpline.supporter()
    wrong = sign_in(helpline.client, sam, password="not the password")
    ghost = User(email="nobody@example.org")
    unknown = sign_in(helpline.app.test_client(), ghost)
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.get_data(as_text=True)
    assert "Wrong email or password." in unknown.get_data(as_text=True)


def test_form_post_without_csrf_token_is_refused(helpline: Helpline) -> None:
    sam = helpline.supporter()
    answer = helpline.client.post("/login", data={"email": sam.email, "password": "x"})
    assert answer.status_code == 400


def test_sign_out_ends_the_session(helpline: Helpline) -> None:
    sign_in(helpline.client, helpline.supporter())
    post_form(helpline.client, "/logout", {})
    assert helpline.client.get("/inbox").status_code == 302


@pytest.mark.parametrize("path", ["/inbox", "/inbox/conversations/1"])
def test_pages_need_sign_in(client: FlaskClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_inbox_lists_my_conversation_by_alias_never_the_number(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo = conversation_for(helpline, "+15550208001", "can't stop crying <b>tonight</b>")
    sign_in(helpline.client, sam)
    page = helpline.client.get("/inbox").get_data(as_text=True)
    thread = helpline.client.get(f"/inbox/conversations/{convo.id}").get_data(as_text=True)
    for html in (page, thread):
        assert "5550208001" not in html
    assert "&lt;b&gt;tonight&lt;/b&gt;" in thread and "<b>tonight</b>" not in thread


def test_another_supporter_gets_404_for_my_conversation(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    convo = conversation_for(helpline, "+15550208002")
    ivy = helpline.supporter("Ivy Chen")
    sign_in(helpline.client, ivy)
    assert helpline.client.get(f"/inbox/conversations/{convo.id}").status_code == 404
    assert convo.supporter_id == sam.id
    assert "No conversations" in helpline.client.get("/inbox").get_data(as_text=True)


def test_reply_from_the_inbox_reaches_the_texter(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo = conversation_for(helpline, "+15550208003")
    sign_in(helpline.client, sam)
    path = f"/inbox/conversations/{convo.id}"
    answer = post_form(helpline.client, path + "/reply", {"body": "I'm here with you."}, path)
    assert answer.status_code == 302
    helpline.run_jobs()
    assert helpline.twilio.to("+15550208003")[-1]["Body"] == "I'm here with you."


def test_reply_to_an_opted_out_texter_is_a_409_and_sends_nothing(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo = conversation_for(helpline, "+15550208004")
    sign_in(helpline.client, sam)
    path = f"/inbox/conversations/{convo.id}"
    token = csrf_token(helpline.client, path)
    helpline.text_in("STOP", from_="+15550208004")
    helpline.run_jobs()
    answer = helpline.client.post(path + "/reply", data={"body": "hi", "csrf_token": token})
    assert answer.status_code == 409
    helpline.run_jobs()
    assert len(helpline.twilio.to("+15550208004")) == 1


def test_a_reply_waiting_to_go_when_the_texter_opts_out_is_cancelled(helpline: Helpline) -> None:
    """The opt-out is checked again when the text is claimed for sending: a reply queued
    before the texter's STOP was processed is cancelled, never sent."""
    sam = helpline.supporter()
    convo = conversation_for(helpline, "+15550208006")
    sign_in(helpline.client, sam)
    path = f"/inbox/conversations/{convo.id}"
    answer = post_form(helpline.client, path + "/reply", {"body": "still there?"}, path)
    assert answer.status_code == 302
    helpline.look_again()
    with transaction(helpline.settings.database_url) as db:  # STOP arrives, the reply waits
        db.execute(update(Texter).where(Texter.id == convo.texter_id).values(opted_out=True))
    helpline.run_jobs()
    helpline.look_again()
    assert [t["Body"] for t in helpline.twilio.to("+15550208006")][-1] != "still there?"
    reply = helpline.db.scalars(select(Message).where(Message.body == "still there?")).one()
    assert (reply.delivery_status, reply.error_code, reply.sid) == ("canceled", 21610, None)


def test_close_from_the_inbox_sends_the_closing_text(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo = conversation_for(helpline, "+15550208005")
    sign_in(helpline.client, sam)
    path = f"/inbox/conversations/{convo.id}"
    post_form(
        helpline.client, path + "/close", {"note": "safe for tonight", "outcome": "supported"}, path
    )
    helpline.run_jobs()
    assert "ended" in helpline.twilio.to("+15550208005")[-1]["Body"]
    assert helpline.db.get(Conversation, convo.id).status == "closed"


def test_presence_switch_changes_my_status(helpline: Helpline) -> None:
    sam = helpline.supporter(status="available")
    sign_in(helpline.client, sam)
    post_form(helpline.client, "/inbox/status", {"status": "away"})
    helpline.look_again()
    assert helpline.db.get(User, sam.id).status == "away"


def test_htmx_refresh_gets_only_the_list(helpline: Helpline) -> None:
    sign_in(helpline.client, helpline.supporter())
    partial = helpline.client.get("/inbox", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in partial


def test_pages_carry_security_headers_and_no_store(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo = conversation_for(helpline, "+15550208006")
    sign_in(helpline.client, sam)
    answer = helpline.client.get(f"/inbox/conversations/{convo.id}")
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "<script>" not in answer.get_data(as_text=True)  # no inline script anywhere


def test_offered_handoff_is_shown_and_accepted_from_the_inbox(helpline: Helpline) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from helpline.models import Shift, utcnow
    from workers import jobs

    sam = helpline.supporter("Sam Rivers")
    convo = conversation_for(helpline, "+15550208007")
    ivy = helpline.supporter("Ivy Chen")
    helpline.look_again()
    helpline.db.execute(update(Conversation).values(assigned_at=utcnow() - timedelta(minutes=10)))
    helpline.db.execute(
        update(Shift)
        .where(Shift.supporter_id == sam.id)
        .values(ends_at=utcnow() - timedelta(minutes=1))
    )
    helpline.db.commit()
    jobs.tick()
    helpline.run_jobs()
    sign_in(helpline.client, ivy)
    assert "Offered to you" in helpline.client.get("/inbox").get_data(as_text=True)
    path = f"/inbox/conversations/{convo.id}"
    assert helpline.client.get(path).status_code == 200  # may read it before accepting
    post_form(helpline.client, path + "/accept", {}, path)
    helpline.look_again()
    assert helpline.db.get(Conversation, convo.id).supporter_id == ivy.id


def test_the_thread_is_served_as_html(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo = conversation_for(helpline, "+15550208008")
    sign_in(helpline.client, sam)
    answer = helpline.client.get(f"/inbox/conversations/{convo.id}")
    assert answer.mimetype == "text/html"


def test_a_new_texter_shows_as_waiting_for_me_with_their_own_words(helpline: Helpline) -> None:
    """The automatic greeting is neither the last text shown nor a reply to the texter."""
    sam = helpline.supporter()
    convo = conversation_for(helpline, "+15550208009", "is anyone there")
    sign_in(helpline.client, sam)
    page = helpline.client.get("/inbox").get_data(as_text=True)
    assert "Waiting for you" in page and "is anyone there" in page
    path = f"/inbox/conversations/{convo.id}"
    post_form(helpline.client, path + "/reply", {"body": "I'm here."}, path)
    page = helpline.client.get("/inbox").get_data(as_text=True)
    assert "Waiting for you" not in page and "I&#39;m here." in page
