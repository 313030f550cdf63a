"""Checking a password, for the web sign-in and the API alike, with guessing slowed down per
account and per address, and the same answer whether or not the account exists."""

from __future__ import annotations

from flask import request

from helpline import throttle, web
from helpline.models import User
from helpline.services import users

ACCOUNT_LIMIT = 5  # failed attempts on one email...
ADDRESS_LIMIT = 30  # ...or from one address...
WINDOW_S = 15 * 60  # ...within this window, then refused until it passes


class Throttled(Exception):
    """Too many failed attempts: refused without checking the password."""


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials; None when wrong; Throttled when blocked."""
    account = throttle.key("signin-account", email.strip())
    address = throttle.key("signin-address", request.remote_addr or "unknown")
    if throttle.is_blocked(web.redis(), [(account, ACCOUNT_LIMIT), (address, ADDRESS_LIMIT)]):
        raise Throttled
    user = users.authenticate(web.db(), email, password)
    if user is None:
        throttle.record_failure(web.redis(), [account, address], WINDOW_S)
        return None
    throttle.clear(web.redis(), [account])
    return user
