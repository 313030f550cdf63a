"""An API bearer token names its user only while it is unrevoked and they are active, and
finding them is one statement (every API request asks)."""

from __future__ import annotations

from sqlalchemy import update

from helpline.models import ApiToken, User, utcnow
from helpline.services import users
from tests.support import Helpline, statements_run


def test_a_token_finds_its_active_user_in_one_statement(helpline: Helpline) -> None:
    sam = helpline.supporter()
    token = users.issue_token(helpline.db, sam)
    helpline.db.commit()
    helpline.look_again()  # as a request's new session: nothing loaded
    with statements_run() as run:
        found = users.user_for_token(helpline.db, token)
    assert found is not None and found.id == sam.id
    assert len([s for s in run if s != "BEGIN"]) == 1  # SQLite's BEGIN is a statement
    assert users.user_for_token(helpline.db, token + "x") is None


def test_a_revoked_token_or_a_deactivated_user_finds_nobody(helpline: Helpline) -> None:
    sam, ivy = helpline.supporter(), helpline.supporter("Ivy Chen")
    revoked, inactive = users.issue_token(helpline.db, sam), users.issue_token(helpline.db, ivy)
    helpline.db.execute(
        update(ApiToken).where(ApiToken.user_id == sam.id).values(revoked_at=utcnow())
    )
    helpline.db.execute(update(User).where(User.id == ivy.id).values(is_active=False))
    helpline.db.commit()
    assert users.user_for_token(helpline.db, revoked) is None
    assert users.user_for_token(helpline.db, inactive) is None
