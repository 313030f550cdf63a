"""Working a shift in the inbox: time left, the end-of-shift heads-up, and "Help another
texter" (the pull model)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from helpline.models import Conversation, ConversationEvent, User, utcnow
from helpline.services import shifts
from tests.support import Helpline
from tests.web.conftest import post_form, sign_in


def queued_conversations(helpline: Helpline, *bodies: str) -> list[Conversation]:
    """Conversations waiting in the queue, oldest first (nobody is available to route to)."""
    for body in bodies:
        helpline.text_in(body)
        helpline.run_jobs()
    found = helpline.db.scalars(
        select(Conversation).where(Conversation.status == "queued").order_by(Conversation.id)
    ).all()
    assert len(found) == len(bodies)
    return list(found)


def make_available(helpline: Helpline, user: User) -> None:
    """Available without a routing pass, so the queue is still there to pull from."""
    helpline.look_again()
    helpline.db.get(User, user.id).status = "available"  # type: ignore[union-attr]
    helpline.db.commit()


def test_help_another_texter_takes_the_longest_waiting_texter(helpline: Helpline) -> None:
    """The pull gives the first conversation in queue order and says who pulled it."""
    sam = helpline.supporter(status="away")
    first, second = queued_conversations(helpline, "hello", "hi there")
    make_available(helpline, sam)
    sign_in(helpline.client, sam)
    assert "Help another texter" in helpline.client.get("/inbox").get_data(as_text=True)
    answer = post_form(helpline.client, "/inbox/help", {})
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/inbox/conversations/{first.id}")
    helpline.look_again()
    assert helpline.db.get(Conversation, first.id).supporter_id == sam.id  # type: ignore[union-attr]
    assert helpline.db.get(Conversation, second.id).status == "queued"  # type: ignore[union-attr]
    event = helpline.db.scalars(
        select(ConversationEvent).where(
            ConversationEvent.conversation_id == first.id, ConversationEvent.kind == "assigned"
        )
    ).one()
    assert event.reason == "pulled by Sam Rivers" and event.supporter_id == sam.id
    helpline.run_jobs()
    assert any("Sam" in m["Body"] for m in helpline.twilio.sent)  # the texter is told


def test_help_another_texter_skips_texters_i_may_not_take(helpline: Helpline) -> None:
    """Routing's own eligibility applies: a texter who needs a language I lack is left."""
    sam = helpline.supporter(status="away", languages=["en"])
    spanish, english = queued_conversations(helpline, "hola", "hello")
    helpline.look_again()
    helpline.db.get(Conversation, spanish.id).language = "es"  # type: ignore[union-attr]
    helpline.db.commit()
    make_available(helpline, sam)
    sign_in(helpline.client, sam)
    answer = post_form(helpline.client, "/inbox/help", {})
    assert answer.headers["Location"].endswith(f"/inbox/conversations/{english.id}")


def test_help_another_texter_says_when_nobody_is_waiting(helpline: Helpline) -> None:
    sam = helpline.supporter()
    sign_in(helpline.client, sam)
    answer = post_form(helpline.client, "/inbox/help", {})
    assert answer.status_code == 302
    page = helpline.client.get("/inbox").get_data(as_text=True)
    assert "Nobody is waiting that you can take right now." in page


def test_no_pull_button_without_room(helpline: Helpline) -> None:
    """At my limit, or away, the button is not offered and the pull is refused."""
    sam = helpline.supporter(max_conversations=1)
    helpline.text_in("hello")
    helpline.run_jobs()
    queued_before = queued_conversations(helpline, "another texter")
    sign_in(helpline.client, sam)
    assert "Help another texter" not in helpline.client.get("/inbox").get_data(as_text=True)
    post_form(helpline.client, "/inbox/help", {})
    helpline.look_again()
    assert helpline.db.get(Conversation, queued_before[0].id).status == "queued"  # type: ignore[union-attr]


def test_inbox_shows_time_left_and_a_heads_up_near_the_end(helpline: Helpline) -> None:
    """Ten minutes before the end with a texter still open, the inbox says so."""
    ivy = helpline.supporter("Ivy Chen", on_shift=False)
    now = utcnow()
    shifts.create_shift(helpline.db, ivy.id, now - timedelta(hours=3), now + timedelta(minutes=10))
    helpline.db.commit()
    sign_in(helpline.client, ivy)
    page = helpline.client.get("/inbox").get_data(as_text=True)
    assert "Shift ends at" in page and "Your shift ends in" not in page
    helpline.text_in("still there?")
    helpline.run_jobs()
    convo = helpline.db.scalars(select(Conversation)).one()
    convo.status, convo.supporter_id = "active", ivy.id  # held by Ivy, however it was routed
    helpline.db.commit()
    page = helpline.client.get("/inbox").get_data(as_text=True)
    assert "Your shift ends in" in page and "1 conversation still open" in page
    assert "handoff note" in page
