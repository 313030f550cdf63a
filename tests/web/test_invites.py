"""Inviting someone by a one-time link: they choose their first password, once, within
seven days; a used, expired or unknown link gets a clear page, never an error."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from helpline.models import AuditEntry, Invite, User, utcnow
from helpline.services import invites, users
from tests.support import Helpline
from tests.web.conftest import csrf_token, post_form, sign_in
from tests.web.test_console import casey

NEW_PASSWORD = "a long new passphrase"
_LINK = re.compile(
    r'id="invite-link" class="feed-url" readonly value="https?://[^/"]+(/invite/[^"]+)"'
)


def invite_from_roster(helpline: Helpline, email: str = "robin@example.org") -> str:
    """Casey adds Robin with "Add and make an invite link"; the path of the link shown."""
    casey(helpline)
    form = {"name": "Robin Hale", "email": email, "password": "", "how": "invite"}
    answer = post_form(helpline.client, "/console/roster", form, "/console/roster")
    assert answer.status_code == 200
    match = _LINK.search(answer.get_data(as_text=True))
    assert match, "no invite link on the page"
    return match.group(1)


def choose(helpline: Helpline, path: str, password: str, confirm: str | None = None) -> int:
    visitor = helpline.app.test_client()
    token = csrf_token(visitor, "/login")
    data = {"password": password, "confirm": password if confirm is None else confirm}
    return visitor.post(path, data={**data, "csrf_token": token}).status_code


def test_an_invited_person_sets_their_password_once_and_signs_in(helpline: Helpline) -> None:
    path = invite_from_roster(helpline)
    robin = helpline.db.scalars(select(User).where(User.email == "robin@example.org")).one()
    assert users.authenticate(helpline.db, robin.email, "") is None  # no password yet
    visitor = helpline.app.test_client()
    page = visitor.get(path)
    assert page.status_code == 200 and "Welcome, Robin Hale" in page.get_data(as_text=True)
    assert choose(helpline, path, NEW_PASSWORD) == 302
    helpline.look_again()
    assert sign_in(helpline.app.test_client(), robin, NEW_PASSWORD).status_code == 302
    again = visitor.get(path)
    assert again.status_code == 410
    assert "already been used" in again.get_data(as_text=True)
    assert choose(helpline, path, "another password") == 410
    actions = helpline.db.scalars(select(AuditEntry.action)).all()
    assert "person.invited" in actions and "invite.used" in actions


def test_the_password_rules_apply_and_a_refusal_leaves_the_link_usable(helpline: Helpline) -> None:
    path = invite_from_roster(helpline)
    assert choose(helpline, path, "short") == 400
    assert choose(helpline, path, NEW_PASSWORD, "something else") == 400
    assert choose(helpline, path, NEW_PASSWORD) == 302


def test_only_the_hash_of_the_link_is_stored(helpline: Helpline) -> None:
    path = invite_from_roster(helpline)
    token = path.rsplit("/", 1)[1]
    stored = helpline.db.scalars(select(Invite.token_hash)).one()
    assert token not in stored and len(stored) == 64


def test_an_unknown_link_gets_a_clear_404_page(helpline: Helpline) -> None:
    answer = helpline.app.test_client().get("/invite/" + "x" * 300)
    assert answer.status_code == 404 and "not valid" in answer.get_data(as_text=True)


def test_the_existing_first_password_path_still_works(helpline: Helpline) -> None:
    casey(helpline)
    form = {"name": "Lee Park", "email": "lee@example.org", "password": NEW_PASSWORD}
    answer = post_form(helpline.client, "/console/roster", form, "/console/roster")
    assert answer.status_code == 302
    lee = helpline.db.scalars(select(User).where(User.email == "lee@example.org")).one()
    assert users.authenticate(helpline.db, lee.email, NEW_PASSWORD) is not None


def test_a_coordinator_can_make_a_new_link_for_someone_still_invited(helpline: Helpline) -> None:
    invite_from_roster(helpline)
    robin = helpline.db.scalars(select(User).where(User.email == "robin@example.org")).one()
    answer = post_form(helpline.client, f"/console/roster/{robin.id}/invite", {}, "/console/roster")
    match = _LINK.search(answer.get_data(as_text=True))
    assert answer.status_code == 200 and match
    assert choose(helpline, match.group(1), NEW_PASSWORD) == 302
    done = post_form(helpline.client, f"/console/roster/{robin.id}/invite", {}, "/console/roster")
    assert done.status_code == 302  # a password is set: no more invite links


@pytest.mark.parametrize(("days", "valid"), [(6, True), (7, False), (8, False)])
def test_a_link_lasts_seven_days(helpline: Helpline, days: int, valid: bool) -> None:
    casey_user = helpline.coordinator()
    now = utcnow()
    _, token = invites.invite(helpline.db, "sky@example.org", "Sky Moss", casey_user, now)
    helpline.db.commit()
    later = now + timedelta(days=days)
    if valid:
        assert invites.open_invite(helpline.db, token, later).user.name == "Sky Moss"
        invites.accept(helpline.db, token, NEW_PASSWORD, later)
    else:
        with pytest.raises(invites.InviteGone, match="expired"):
            invites.accept(helpline.db, token, NEW_PASSWORD, later)


def test_an_expired_link_gets_a_clear_page(helpline: Helpline) -> None:
    casey_user = helpline.coordinator()
    _, token = invites.invite(
        helpline.db, "sky@example.org", "Sky Moss", casey_user, utcnow() - timedelta(days=8)
    )
    helpline.db.commit()
    answer = helpline.app.test_client().get(f"/invite/{token}")
    assert answer.status_code == 410 and "expired" in answer.get_data(as_text=True)
    assert choose(helpline, f"/invite/{token}", NEW_PASSWORD) == 410
