"""Canned responses: coordinators write them over the API, supporters find them in the
reply box with their own first name filled in."""

from __future__ import annotations

from sqlalchemy import select

from helpline.models import Conversation
from tests.support import Helpline
from tests.web.conftest import sign_in


def test_coordinator_writes_and_supporter_reads(helpline: Helpline) -> None:
    casey, sam = helpline.coordinator(), helpline.supporter()
    made = helpline.api(
        "POST",
        "/canned-responses",
        casey,
        json={"title": "Welcome", "body": "Hi, I'm {supporter_first_name}. I'm here."},
    )
    assert made.status_code == 201
    ident = made.get_json()["id"]
    listed = helpline.api("GET", "/canned-responses", sam).get_json()["items"]
    assert [r["title"] for r in listed] == ["Welcome"]
    changed = helpline.api("PATCH", f"/canned-responses/{ident}", casey, json={"title": "Hello"})
    assert changed.status_code == 200 and changed.get_json()["title"] == "Hello"
    assert changed.get_json()["body"].startswith("Hi, I'm {supporter_first_name}")
    assert helpline.api("DELETE", f"/canned-responses/{ident}", casey).status_code == 204
    assert helpline.api("GET", "/canned-responses", sam).get_json()["items"] == []


def test_supporters_cannot_write_canned_responses(helpline: Helpline) -> None:
    sam = helpline.supporter()
    answer = helpline.api("POST", "/canned-responses", sam, json={"title": "x", "body": "y"})
    assert answer.status_code == 403


def test_blank_or_unknown_fields_are_refused_with_a_reason(helpline: Helpline) -> None:
    casey = helpline.coordinator()
    blank = helpline.api("POST", "/canned-responses", casey, json={"title": " ", "body": "y"})
    assert blank.status_code == 400 and "title" in blank.get_json()["error"]
    extra = helpline.api(
        "POST", "/canned-responses", casey, json={"title": "a", "body": "b", "tone": "warm"}
    )
    assert extra.status_code == 400 and "tone" in extra.get_json()["error"]
    too_long = helpline.api(
        "POST", "/canned-responses", casey, json={"title": "a", "body": "b" * 1001}
    )
    assert too_long.status_code == 400


def test_reply_box_offers_canned_responses_with_my_first_name(helpline: Helpline) -> None:
    casey, sam = helpline.coordinator(), helpline.supporter("Sam Rivers")
    helpline.api(
        "POST",
        "/canned-responses",
        casey,
        json={"title": "Welcome", "body": "I'm {supporter_first_name} <3 {unknown}"},
    )
    helpline.text_in("hello")
    helpline.run_jobs()
    convo = helpline.db.scalars(select(Conversation)).one()
    sign_in(helpline.client, sam)
    page = helpline.client.get(f"/inbox/conversations/{convo.id}").get_data(as_text=True)
    assert 'data-canned-body="I&#39;m Sam &lt;3 {unknown}"' in page
    assert "canned.js" in page
