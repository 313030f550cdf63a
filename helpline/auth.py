"""Signing in and out of the web inbox: argon2id passwords, CSRF-protected forms."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from helpline import web
from helpline.models import User
from helpline.services import users

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])


@bp.before_app_request
def load_user() -> None:
    """The signed-in user on g.user; a deactivated user is signed out at once."""
    g.user = None
    user_id = session.get("user_id")
    if user_id is None:
        return
    user = web.db().get(User, user_id)
    if user is None or not user.is_active:
        session.clear()
        return
    g.user = user


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
    if request.method == "GET":
        return render_template("login.html")
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    user = users.authenticate(web.db(), email, password)
    if user is None:
        return render_template("login.html", error="Wrong email or password.", email=email), 401
    web.db().commit()  # a password hash may have been upgraded
    session.clear()  # a fresh session on every sign-in
    session["user_id"] = user.id
    return redirect(_safe_next(request.args.get("next")))


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after sign-in."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("inbox.index")


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/")
def home() -> Response:
    return redirect(url_for("inbox.index" if g.user else "auth.login"))
