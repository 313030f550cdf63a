"""Two supporters pressing "Help another texter" at once never get the same texter."""

from __future__ import annotations

import threading

from sqlalchemy import select

from helpline.db import session_factory
from helpline.models import Conversation, User, utcnow
from helpline.services import pulling
from tests.support import Helpline


def test_two_pulls_at_once_give_one_texter_to_one_supporter(helpline: Helpline) -> None:
    """The pull holds the routing lock from reading the queue to the commit."""
    people = [helpline.supporter(name, status="away") for name in ("Sam Rivers", "Ivy Chen")]
    helpline.text_in("hello")
    helpline.run_jobs()
    for person in people:
        helpline.db.get(User, person.id).status = "available"  # type: ignore[union-attr]
    helpline.db.commit()
    start = threading.Barrier(len(people))
    got: dict[int, int | None] = {}

    def press(user_id: int) -> None:
        session = session_factory(helpline.settings.database_url, writes=True)()
        try:
            start.wait(timeout=10)  # before any transaction: SQLite's writers queue on BEGIN
            user = session.get(User, user_id)
            assert user is not None
            pulled = pulling.pull(session, user, utcnow())
            got[user_id] = pulled.conversation.id if pulled.conversation else None
            session.commit()
        finally:
            session.close()

    threads = [threading.Thread(target=press, args=(p.id,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    helpline.look_again()
    convo = helpline.db.scalars(select(Conversation)).one()
    winners = [uid for uid, cid in got.items() if cid == convo.id]
    assert len(got) == 2 and winners == [convo.supporter_id]
