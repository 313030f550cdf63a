"""A small helpline to walk every route in: who is who, what they hold, and how each of them
calls a route (a browser session with its CSRF token, a bearer token, or Twilio's signature).

Used by tests/web/test_authorization.py; the table of who may do what lives there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from helpline.models import Conversation, Program, utcnow
from helpline.services import programs, shifts
from tests.support import Helpline, message_sid, sign, texter_number
from tests.web.conftest import csrf_token, sign_in

ROLES = ("anonymous", "supporter", "other", "coordinator")
_VARIABLE = re.compile(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>")


@dataclass(frozen=True)
class Answer:
    """What a caller gets back: a status, and for redirects where they are sent."""

    status: int
    location: str | None = None  # the path a redirect leads to (its start)
    refused: bool = False

    def __str__(self) -> str:
        where = f" to {self.location}" if self.location else ""
        return f"{'refused ' if self.refused else ''}{self.status}{where}"


def refused(status: int) -> Answer:
    assert status in (401, 403, 404, 409), "a refusal is 401, 403, 404 (or 409: state refuses)"
    return Answer(status, refused=True)


def redirect(path: str) -> Answer:
    return Answer(302, path)


@dataclass(frozen=True)
class Call:
    """What to send: values for the path's variables, and a JSON body or a form."""

    path: Mapping[str, object] = field(default_factory=dict)
    json: dict[str, Any] | None = None
    query: Mapping[str, object] = field(default_factory=dict)
    form: dict[str, str] | None = None
    fresh_session: bool = False  # sign in anew (the call ends or replaces the session)


Prepare = Callable[["World", bool], Call]


@dataclass
class World:
    """Sam (`supporter`) holds conversations, shifts and offers; Ivy (`other`) holds nothing
    and tries Sam's; Casey (`coordinator`) runs the line; Kim hands a conversation to Sam."""

    helpline: Helpline
    app: Flask
    _pool: list[int] = field(default_factory=list)
    _shared: dict[str, int] = field(default_factory=dict)
    _clients: dict[str, FlaskClient] = field(default_factory=dict)
    _csrf: dict[str, str] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        h = self.helpline
        self.sam = h.supporter("Sam Rivers", max_conversations=30)
        self.ivy = h.supporter("Ivy Chen", on_shift=False, status="away")
        self.kim = h.supporter("Kim Park", on_shift=False, status="offline")
        self.casey = h.coordinator("Casey Lee")
        self.users = {"supporter": self.sam, "other": self.ivy, "coordinator": self.casey}

    # Sam's things: shared ones for calls that change nothing, fresh ones for calls that do --
    def conversation(self, fresh: bool) -> int:
        """An active conversation Sam holds."""
        if not fresh and "conversation" in self._shared:
            return self._shared["conversation"]
        if not self._pool:
            self._fill_pool(12)
        convo = self._pool.pop()
        if not fresh:
            self._shared["conversation"] = convo
        return convo

    def _fill_pool(self, count: int) -> None:
        h = self.helpline
        for _ in range(count):
            assert h.text_in("hello", from_=texter_number()).status_code == 200
        h.run_jobs()
        held = select(Conversation.id).where(
            Conversation.supporter_id == self.sam.id, Conversation.status == "active"
        )
        taken = {*self._pool, self._shared.get("conversation"), self._shared.get("offer")}
        self._pool = [c for c in h.db.scalars(held) if c not in taken]
        assert len(self._pool) >= count, "every new text should have gone to Sam"

    def offer(self, fresh: bool) -> int:
        """A conversation Kim holds and is handing to Sam (a warm handoff waiting for Sam)."""
        if not fresh and "offer" in self._shared:
            return self._shared["offer"]
        convo = self.conversation(fresh=True)
        h = self.helpline
        h.look_again()
        h.db.execute(
            update(Conversation)
            .where(Conversation.id == convo)
            .values(supporter_id=self.kim.id, offered_to_id=self.sam.id, offered_at=utcnow())
        )
        h.db.commit()
        if not fresh:
            self._shared["offer"] = convo
        return convo

    def shift(self, fresh: bool) -> int:
        """One of Sam's shifts, tomorrow (so changing it leaves Sam on shift today)."""
        if not fresh and "shift" in self._shared:
            return self._shared["shift"]
        starts = self.tomorrow()
        h = self.helpline
        h.look_again()
        shift = shifts.create_shift(h.db, self.sam.id, starts, starts + timedelta(hours=4))
        h.db.commit()
        if not fresh:
            self._shared["shift"] = shift.id
        return shift.id

    def tomorrow(self) -> Any:
        return utcnow().replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1)

    def program(self, fresh: bool) -> int:
        if not fresh and "program" in self._shared:
            return self._shared["program"]
        h = self.helpline
        h.look_again()
        program = programs.save(h.db, Program(required_skills=[], texts={}), {"name": unique()})
        h.db.commit()
        if not fresh:
            self._shared["program"] = program.id
        return program.id

    # Calling as someone ----------------------------------------------------------------
    def call(self, role: str, method: str, rule: str, call: Call, signed: bool) -> TestResponse:
        answer = self._send(role, method, rule, call, signed)
        answer.get_data()  # read it all (static files stream), then let go of the file
        answer.close()
        return answer

    def _send(self, role: str, method: str, rule: str, call: Call, signed: bool) -> TestResponse:
        path = _VARIABLE.sub(lambda m: str(call.path[m.group(1)]), rule)
        if call.query:
            path += "?" + urlencode(call.query)
        if signed:
            return self.helpline_post_signed(path, call.form or {})
        client = self._client(role, fresh=call.fresh_session)
        headers = {}
        if role in self.users and path.startswith("/api/"):
            headers["Authorization"] = f"Bearer {self._token(role)}"
        if call.form is not None and method not in ("HEAD", "OPTIONS"):
            data = dict(call.form)
            if not path.startswith("/twilio/"):
                data["csrf_token"] = self._csrf[self._key(role, call.fresh_session)]
            return client.open(path, method=method, data=data, headers=headers)
        if call.json is not None and method not in ("HEAD", "OPTIONS"):
            return client.open(path, method=method, json=call.json, headers=headers)
        return client.open(path, method=method, headers=headers)

    def helpline_post_signed(self, path: str, form: dict[str, str]) -> TestResponse:
        settings = self.helpline.settings
        url = settings.public_url + path
        return self.app.test_client().post(
            path,
            data=urlencode(form),
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": sign(settings.webhook_auth_token, url, form)},
        )

    def _key(self, role: str, fresh: bool) -> str:
        return f"{role}:fresh" if fresh else role

    def _client(self, role: str, fresh: bool) -> FlaskClient:
        key = self._key(role, fresh)
        if fresh or key not in self._clients:
            client = self.app.test_client()
            if role in self.users:
                assert sign_in(client, self.users[role]).status_code == 302
            self._csrf[key] = csrf_token(client, "/login")
            self._clients[key] = client
        return self._clients[key]

    def _token(self, role: str) -> str:
        if role not in self._tokens:
            self._tokens[role] = self.helpline.token(self.users[role])
        return self._tokens[role]


_names = iter(range(10**6))


def unique() -> str:
    return f"walk-{next(_names)}"


def inbound_form(helpline: Helpline) -> dict[str, str]:
    return {
        "MessageSid": message_sid(),
        "AccountSid": helpline.settings.twilio_account_sid or "",
        "From": texter_number(),
        "To": "+15550100000",
        "Body": "hello",
        "NumMedia": "0",
    }
