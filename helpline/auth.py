"""Signing in and out of the web inbox: argon2id passwords, server-side sessions, CSRF."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from helpline import signin, web
from helpline.models import User
from helpline.services import web_sessions

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])
_SAME_SITE_PATH = re.compile(r"/(?![/\\])[^\\\s]*\Z")
THROTTLED = "Too many sign-in attempts. Please wait 15 minutes and try again."


@bp.before_app_request
def load_user() -> None:
    """The signed-in user on g.user. A revoked, idle or expired session, or a deactivated
    user, is signed out at once."""
    g.user = None
    token = session.get("sid")
    if not token:
        return
    found = web_sessions.resume(web.db(), token, web.now())
    if found is None:
        session.clear()
        return
    row, g.user = found
    if web_sessions.needs_touch(row, web.now()):
        with web.resources().sessions() as writer:  # its own short write, even on a GET
            web_sessions.touch(writer, token, web.now())
            writer.commit()


def current_user() -> User:
    return cast(User, g.user)


def login_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.user is None:
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)

    return cast(F, wrapped)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if request.method != "POST":  # GET, and HEAD (which must not count as a failed sign-in)
        return render_template("login.html")
    email = request.form.get("email", "")
    try:
        user = signin.authenticate(email, request.form.get("password", ""))
    except signin.Throttled:
        return render_template("login.html", error=THROTTLED, email=email), 429
    if user is None:
        return render_template("login.html", error="Wrong email or password.", email=email), 401
    token = web_sessions.start(web.db(), user, web.now())
    web.db().commit()
    session.clear()  # a fresh session on every sign-in: nothing carried over
    session["sid"] = token
    return redirect(_safe_next(request.args.get("next")))


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after sign-in. Browsers read a
    backslash as a slash and drop tabs and newlines: `/\\host` and `/\\t/host` are refused."""
    if target and _SAME_SITE_PATH.match(target):
        return target
    return url_for("inbox.index")


@bp.post("/logout")
def logout() -> Response:
    token = session.get("sid")
    if token:
        web_sessions.end(web.db(), token, web.now())
        web.db().commit()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/")
def home() -> Response:
    return redirect(url_for("inbox.index" if g.user else "auth.login"))
