"""The inbox list: unread texts per conversation, and how long the texter has waited."""

from __future__ import annotations

import re

from sqlalchemy import select

from helpline.models import Conversation
from tests.support import Helpline, texter_number
from tests.web.conftest import post_form, sign_in


def test_unread_counts_texts_since_i_last_opened_the_thread(helpline: Helpline) -> None:
    """Texts from the texter after my last look are counted; opening the thread reads them."""
    sam = helpline.supporter()
    number = texter_number()
    helpline.text_in("hello", from_=number)
    helpline.run_jobs()
    convo = helpline.db.scalars(select(Conversation)).one()
    sign_in(helpline.client, sam)
    assert "1 new" in helpline.client.get("/inbox").get_data(as_text=True)
    helpline.client.get(f"/inbox/conversations/{convo.id}")
    assert "new<span" not in helpline.client.get("/inbox").get_data(as_text=True)
    for body in ("are you there", "please"):
        helpline.text_in(body, from_=number)
    helpline.run_jobs()
    page = helpline.client.get("/inbox").get_data(as_text=True)
    assert "2 new" in page


def test_waiting_time_shows_until_a_supporter_replies(helpline: Helpline) -> None:
    """The mark and the minutes count from the texter's first unanswered text."""
    sam = helpline.supporter()
    helpline.text_in("hello")
    helpline.run_jobs()
    convo = helpline.db.scalars(select(Conversation)).one()
    sign_in(helpline.client, sam)
    page = helpline.client.get("/inbox").get_data(as_text=True)
    assert re.search(r"Waiting for you\s*·\s*<span class=\"waited\">under 1 min", page)
    thread = f"/inbox/conversations/{convo.id}"
    post_form(helpline.client, thread + "/reply", {"body": "I'm here."}, token_from=thread)
    assert "Waiting for you" not in helpline.client.get("/inbox").get_data(as_text=True)


def test_a_new_holder_starts_with_everything_unread(helpline: Helpline) -> None:
    """After a transfer the next supporter has read nothing yet."""
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("hello")
    helpline.run_jobs()
    convo = helpline.db.scalars(select(Conversation)).one()
    sign_in(helpline.client, sam)
    thread = f"/inbox/conversations/{convo.id}"
    helpline.client.get(thread)
    ivy = helpline.supporter("Ivy Chen")
    post_form(
        helpline.client, thread + "/transfer", {"target": f"person:{ivy.id}"}, token_from=thread
    )
    other = helpline.app.test_client()
    sign_in(other, ivy)
    assert "1 new" in other.get("/inbox").get_data(as_text=True)
