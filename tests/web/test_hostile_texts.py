"""Hostile texts: markup, scripts, control characters, RTL overrides and 1,600 emoji are kept
exactly as sent, and shown as text, never as markup, in the inbox and the API.

NUL is the one character refused (a 400 with the reason), by the webhook, the API and the
inbox alike, on SQLite as on PostgreSQL: PostgreSQL text cannot hold it (docs/decisions.md).
"""

from __future__ import annotations

import json

import pytest
from markupsafe import escape
from sqlalchemy import select

from helpline.models import Conversation, Message
from tests.support import Helpline
from tests.web.conftest import post_form, sign_in

HOSTILE = [
    "<script>alert('hi')</script>",
    '<img src=x onerror="alert(1)"><b>bold</b> &amp; &lt;',
    "bell\x07 escape\x1b[31m red\x1b[0m del\x7f next-line\x85 crlf\r\n tab\t",
    "file \u202egnp.exe\u202c and \u2066isolate\u2069 zero\u200bwidth \ufeffbom",
    "😢" * 1600,
]


def conversation_of(helpline: Helpline, number: str) -> Conversation:
    helpline.look_again()
    return next(c for c in helpline.db.scalars(select(Conversation)) if c.texter.address == number)


def test_hostile_texts_are_kept_exactly_and_shown_as_text(helpline: Helpline) -> None:
    sam = helpline.supporter()
    number = "+15550206001"
    for text in HOSTILE:
        assert helpline.text_in(text, from_=number).status_code == 200
    helpline.run_jobs()
    convo = conversation_of(helpline, number)
    received = [m.body for m in convo.messages if m.direction == "in"]
    assert received == HOSTILE  # stored exactly, on SQLite and PostgreSQL alike

    sign_in(helpline.client, sam)
    page = helpline.client.get(f"/inbox/conversations/{convo.id}").get_data(as_text=True)
    inbox = helpline.client.get("/inbox").get_data(as_text=True)
    for text in HOSTILE:
        assert str(escape(text)) in page  # the whole text, as text
    for shown in (page, inbox):
        assert "<script>" not in shown and "<img" not in shown and "<b>" not in shown

    answer = helpline.api("GET", f"/conversations/{convo.id}", user=sam)
    assert answer.mimetype == "application/json"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    raw = answer.get_data(as_text=True)
    assert not set("<>&'") & set(raw), "markup characters are \\u-escaped in JSON"
    bodies = [m["body"] for m in json.loads(raw)["messages"] if m["direction"] == "in"]
    assert bodies == HOSTILE


@pytest.mark.parametrize("text", HOSTILE[:4])
def test_a_supporters_hostile_reply_goes_out_exactly(helpline: Helpline, text: str) -> None:
    """From the API and from the inbox form, what a supporter writes is what the texter gets."""
    sam = helpline.supporter()
    number = "+15550206002"
    helpline.text_in("hello", from_=number)
    helpline.run_jobs()
    convo = conversation_of(helpline, number)
    api = helpline.api("POST", f"/conversations/{convo.id}/messages", user=sam, json={"body": text})
    assert api.status_code == 202 and api.get_json()["body"] == text
    sign_in(helpline.client, sam)
    path = f"/inbox/conversations/{convo.id}"
    assert post_form(helpline.client, path + "/reply", {"body": text}, path).status_code == 302
    helpline.run_jobs()
    assert [t["Body"] for t in helpline.twilio.to(number)[-2:]] == [text, text]


def test_a_text_with_a_nul_is_refused_by_the_webhook_and_nothing_is_stored(
    helpline: Helpline,
) -> None:
    answer = helpline.text_in("before\x00after")
    assert answer.status_code == 400 and b"NUL" in answer.data
    helpline.look_again()
    assert helpline.db.scalars(select(Message)).all() == []


def test_a_reply_with_a_nul_is_refused_by_the_api_and_the_inbox(helpline: Helpline) -> None:
    sam = helpline.supporter()
    number = "+15550206003"
    helpline.text_in("hello", from_=number)
    helpline.run_jobs()
    convo = conversation_of(helpline, number)
    api = helpline.api(
        "POST", f"/conversations/{convo.id}/messages", user=sam, json={"body": "a\x00b"}
    )
    assert api.status_code == 400 and "NUL" in api.get_json()["error"]
    sign_in(helpline.client, sam)
    path = f"/inbox/conversations/{convo.id}"
    assert post_form(helpline.client, path + "/reply", {"body": "a\x00b"}, path).status_code == 400
    helpline.look_again()
    assert [m.body for m in convo.messages if m.author_id == sam.id] == []


@pytest.mark.parametrize(
    "body",
    [
        '{"body": "lone \\ud800 surrogate"}',
        '{"body": "hi", "extra": NaN}',
        '{"body": "hi", "n": Infinity}',
    ],
)
def test_json_that_cannot_be_stored_is_a_400(helpline: Helpline, body: str) -> None:
    sam = helpline.supporter()
    helpline.text_in("hello", from_="+15550206004")
    helpline.run_jobs()
    convo = conversation_of(helpline, "+15550206004")
    answer = helpline.api(
        "POST",
        f"/conversations/{convo.id}/messages",
        user=sam,
        data=body,
        content_type="application/json",
    )
    assert answer.status_code == 400 and answer.get_json()["error"]
