"""Public by token: the one-time invite link where a new person sets their first password."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from helpline import throttle, web
from helpline.services import invites, users

bp = Blueprint("invites", __name__)
MISS_LIMIT = 20  # wrong links from one address...
MISS_WINDOW_S = 15 * 60  # ...within this window, then refused until it passes
GONE = {
    "unknown": ("This invite link is not valid.", 404),
    "used": ("This invite link has already been used.", 410),
    "expired": ("This invite link has expired.", 410),
    "deactivated": ("This invite link is no longer valid.", 410),
}


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept(token: str) -> Response:
    """Choose a first password (the usual rules) once; afterwards the link is dead."""
    misses = throttle.key("invite-address", request.remote_addr or "unknown")
    if throttle.is_blocked(web.redis(), [(misses, MISS_LIMIT)]):
        abort(429)
    session = web.db()
    try:
        invite = invites.open_invite(session, token, web.now())
        if request.method != "POST":
            return _page(person=invite.user)
        password = request.form.get("password", "")
        if password != request.form.get("confirm", ""):
            return _page(400, person=invite.user, error="The two passwords differ.")
        person = invites.accept(session, token, password, web.now())
    except invites.InviteGone as gone:
        session.rollback()
        if gone.reason == "unknown":
            throttle.record_failure(web.redis(), [misses], MISS_WINDOW_S)
        why, status = GONE[gone.reason]
        return _page(status, gone=why)
    except users.UserError as exc:
        session.rollback()
        person = invites.open_invite(session, token, web.now()).user
        return _page(400, person=person, error=str(exc).capitalize() + ".")
    session.commit()
    flash(f"Your password is set, {person.name}. Sign in with your email and it.")
    return redirect(url_for("auth.login"))


def _page(status: int = 200, **context: object) -> Response:
    response = Response(render_template("invite.html", **context), status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
