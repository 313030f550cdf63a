"""The append-only audit log: views, actions and refusals are written; nothing is rewritten."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from helpline.db import get_engine
from helpline.models import AuditEntry, Conversation
from helpline.services import audit
from tests.support import Helpline
from tests.web.conftest import sign_in


def assigned_conversation(helpline: Helpline) -> Conversation:
    helpline.text_in("hello", from_="+15550301234")
    helpline.run_jobs()
    convo = helpline.db.scalars(select(Conversation)).one()
    assert convo.supporter_id is not None
    return convo


def log(helpline: Helpline) -> list[AuditEntry]:
    helpline.look_again()
    return list(helpline.db.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_a_supporter_viewing_a_conversation_is_written_down(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo = assigned_conversation(helpline)
    sign_in(helpline.client, sam)
    assert helpline.client.get(f"/inbox/conversations/{convo.id}").status_code == 200
    assert helpline.api("GET", f"/conversations/{convo.id}", user=sam).status_code == 200
    viewed = [e for e in log(helpline) if e.action == audit.VIEWED]
    assert [(e.actor_id, e.conversation_id, e.method) for e in viewed] == [
        (sam.id, convo.id, "GET"),
        (sam.id, convo.id, "GET"),
    ]
    assert viewed[0].path == f"/inbox/conversations/{convo.id}"


def test_another_supporter_is_refused_and_the_attempt_is_written_down(
    helpline: Helpline,
) -> None:
    helpline.supporter()
    convo = assigned_conversation(helpline)
    other = helpline.supporter("Alex Moss", on_shift=False)
    sign_in(helpline.client, other)
    assert helpline.client.get(f"/inbox/conversations/{convo.id}").status_code == 404
    assert helpline.api("GET", f"/conversations/{convo.id}", user=other).status_code == 403
    assert helpline.api("GET", "/queue", user=other).status_code == 403
    denied = [(e.actor_id, e.conversation_id, e.status) for e in log(helpline)]
    assert denied == [(other.id, convo.id, 404), (other.id, convo.id, 403), (other.id, None, 403)]
    assert {e.action for e in log(helpline)} == {audit.DENIED}


def test_replies_are_written_down_as_actions(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo = assigned_conversation(helpline)
    answer = helpline.api(
        "POST", f"/conversations/{convo.id}/messages", user=sam, json={"body": "hi"}
    )
    assert answer.status_code == 202
    assert [(e.action, e.method) for e in log(helpline)] == [(audit.ACTED, "POST")]


def test_coordinators_read_the_log_and_supporters_cannot(helpline: Helpline) -> None:
    sam = helpline.supporter()
    casey = helpline.coordinator()
    convo = assigned_conversation(helpline)
    helpline.api("GET", f"/conversations/{convo.id}", user=sam)
    answer = helpline.api("GET", f"/audit?conversation_id={convo.id}", user=casey)
    assert answer.status_code == 200
    (entry,) = answer.get_json()["items"]
    assert entry["actor_id"] == sam.id and entry["action"] == audit.VIEWED
    assert helpline.api("GET", "/audit", user=sam).status_code == 403


def test_the_database_refuses_to_change_or_delete_an_entry(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo = assigned_conversation(helpline)
    helpline.api("GET", f"/conversations/{convo.id}", user=sam)
    engine = get_engine(helpline.settings.database_url)
    for statement in ("UPDATE audit_log SET actor_id = NULL", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    assert len(log(helpline)) == 1


def test_a_view_that_cannot_be_written_down_is_not_shown(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo = assigned_conversation(helpline)
    engine = get_engine(helpline.settings.database_url)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_log RENAME TO audit_log_away"))
    try:
        answer = helpline.api("GET", f"/conversations/{convo.id}", user=sam)
    finally:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE audit_log_away RENAME TO audit_log"))
    assert answer.status_code == 503
    assert "hello" not in answer.get_data(as_text=True)
