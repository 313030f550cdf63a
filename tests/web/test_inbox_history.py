"""A returning texter: their earlier conversations under the thread, read-only and audited;
the previous supporter's handoff note at the top."""

from __future__ import annotations

from sqlalchemy import select

from helpline.models import AuditEntry, Conversation
from tests.support import Helpline, texter_number
from tests.web.conftest import post_form, sign_in


def returning_texter(helpline: Helpline) -> tuple[Conversation, Conversation]:
    """A texter whose first conversation was closed, now texting again."""
    number = texter_number()
    helpline.text_in("the first time I wrote", from_=number)
    helpline.run_jobs()
    first = helpline.db.scalars(select(Conversation)).one()
    first.status = "closed"
    helpline.db.commit()
    helpline.text_in("I'm back", from_=number)
    helpline.run_jobs()
    second = helpline.db.scalars(select(Conversation).where(Conversation.id != first.id)).one()
    return first, second


def test_holder_sees_the_texters_earlier_conversation_and_the_view_is_audited(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter()
    first, second = returning_texter(helpline)
    sign_in(helpline.client, sam)
    page = helpline.client.get(f"/inbox/conversations/{second.id}").get_data(as_text=True)
    assert "Earlier conversations with" in page and "the first time I wrote" in page
    helpline.look_again()
    entry = helpline.db.scalars(
        select(AuditEntry).where(AuditEntry.conversation_id == first.id)
    ).one()
    assert entry.actor_id == sam.id and entry.detail == {"shown_with": second.id}


def test_earlier_conversations_are_not_shown_to_a_supporter_only_offered_it(
    helpline: Helpline,
) -> None:
    """Someone who has not taken the conversation on does not read the texter's past."""
    sam = helpline.supporter()
    first, second = returning_texter(helpline)
    ivy = helpline.supporter("Ivy Chen")
    helpline.look_again()
    helpline.db.get(Conversation, second.id).offered_to_id = ivy.id  # type: ignore[union-attr]
    helpline.db.commit()
    sign_in(helpline.client, ivy)
    page = helpline.client.get(f"/inbox/conversations/{second.id}").get_data(as_text=True)
    assert "I&#39;m back" in page and "the first time I wrote" not in page
    assert sam.id != ivy.id


def test_the_previous_supporters_note_is_shown_first_to_the_next(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    helpline.text_in("hello")
    helpline.run_jobs()
    convo = helpline.db.scalars(select(Conversation)).one()
    ivy = helpline.supporter("Ivy Chen")
    sign_in(helpline.client, sam)
    thread = f"/inbox/conversations/{convo.id}"
    note = "Exam stress; prefers short texts. Said they have a friend nearby."
    post_form(
        helpline.client,
        thread + "/transfer",
        {"target": f"person:{ivy.id}", "note": note},
        token_from=thread,
    )
    other = helpline.app.test_client()
    sign_in(other, ivy)
    page = other.get(thread).get_data(as_text=True)
    top = page.index("Handoff note")
    assert page.index(note) > top and top < page.index("data-thread-entries")
