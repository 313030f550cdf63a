"""The coordinator console: live board, roster, audit log and the jobs that failed for good;
the week calendar (`console_calendar`) and reports (`console_reports`) add their routes to
the same blueprint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from helpline import feeds, web
from helpline.auth import current_user, login_required
from helpline.inbox import event_stream, live_url
from helpline.live import notices
from helpline.models import Conversation, User
from helpline.services import (
    audit,
    board,
    calendar_feed,
    handoffs,
    invites,
    users,
)
from workers import queues

bp = Blueprint("console", __name__, url_prefix="/console")
F = TypeVar("F", bound=Callable[..., Any])
MAX_NOTE = 2000
AUDIT_PAGE = 200
JOBS_PAGE = 200


def coordinator_required(view: F) -> F:
    """Signed in (else sent to sign in) and a coordinator (else 403)."""

    @login_required
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.user.role != "coordinator":
            abort(403)
        return view(*args, **kwargs)

    return cast(F, wrapped)


def _is_htmx() -> bool:
    return bool(request.headers.get("HX-Request"))


def no_store(body: str, status: int = 200) -> Response:
    response = Response(body, status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("")
@coordinator_required
def live() -> Response:
    """The live board; htmx re-fetches only the board when the board's event stream says
    something changed, and on a slow poll when the stream is down."""
    events_url = None if _is_htmx() else live_url("console.events", notices.BOARD)
    context = {"board": board.live_board(web.db(), web.now()), "now": web.now()}
    if _is_htmx():
        return no_store(render_template("console/_board.html", **context))
    poll = web.settings().board_poll_s
    return no_store(render_template("console/live.html", poll=poll, live_url=events_url, **context))


@bp.get("/events")
def events() -> Response:
    """The board's notices for coordinators, as Server-Sent Events (helpline.live.feed)."""
    if g.user is None:
        return Response("sign in first\n", 401, mimetype="text/plain")
    if g.user.role != "coordinator":
        return Response("coordinators only\n", 403, mimetype="text/plain")
    return event_stream(notices.BOARD)


def _reassignable(conversation_id: int) -> Conversation:
    convo = web.db().get(Conversation, conversation_id)
    if convo is None:
        abort(404)
    return convo


@bp.get("/conversations/<int:conversation_id>/reassign")
@coordinator_required
def reassign_form(conversation_id: int) -> Response:
    convo = _reassignable(conversation_id)
    choices = board.reassign_choices(web.db())
    return no_store(render_template("console/reassign.html", convo=convo, choices=choices))


@bp.post("/conversations/<int:conversation_id>/reassign")
@coordinator_required
def reassign(conversation_id: int) -> Response | tuple[str, int]:
    """Hand a queued or active conversation to a named supporter (handoffs.transfer)."""
    convo = _reassignable(conversation_id)
    choices = board.reassign_choices(web.db())

    def refuse(why: str, status: int) -> tuple[str, int]:
        page = render_template("console/reassign.html", convo=convo, choices=choices, error=why)
        return page, status

    if convo.status == "closed":
        return refuse("This conversation is closed.", 409)
    raw = request.form.get("supporter_id", "")
    person = web.db().get(User, int(raw)) if raw.isdigit() and len(raw) < 10 else None
    if person is None or not person.is_active:
        return refuse("Choose someone to hand the conversation to.", 400)
    if person.id == convo.supporter_id:
        return refuse(f"The conversation is already with {person.name}.", 409)
    note = request.form.get("note", "").strip()[:MAX_NOTE] or None
    texts = handoffs.transfer(web.db(), convo, web.now(), current_user(), note, person)
    web.db().commit()
    queues.texts_made(web.redis(), [t.id for t in texts])
    flash(f"Conversation {convo.id} handed to {person.name}.")
    return redirect(url_for(".live"))


@bp.get("/roster")
@coordinator_required
def roster() -> Response:
    people = board.roster(web.db())
    return no_store(render_template("console/roster.html", people=people))


@bp.post("/roster")
@coordinator_required
def add_person() -> Response | tuple[str, int]:
    form = request.form
    fields: dict[str, Any] = {
        "role": form.get("role", "supporter"),
        "skills": _words(form.get("skills", "")),
        "languages": _words(form.get("languages", "")),
        "timezone": form.get("timezone", "").strip() or "UTC",
    }
    limit = form.get("max_conversations", "").strip()
    if limit:
        fields["max_conversations"] = int(limit) if limit.isdigit() and len(limit) < 4 else limit
    session = web.db()
    by_invite = form.get("how") == "invite"
    try:
        if by_invite:
            user, token = invites.invite(
                session,
                form.get("email", ""),
                form.get("name", ""),
                current_user(),
                web.now(),
                **fields,
            )
        else:
            user = users.create_user(
                session,
                form.get("email", ""),
                form.get("name", ""),
                form.get("password", ""),
                **fields,
            )
    except users.UserError as exc:
        session.rollback()  # a refused insert leaves nothing behind to read past
        people = board.roster(session)
        page = render_template("console/roster.html", people=people, error=str(exc), form=form)
        return page, 409 if isinstance(exc, users.EmailTaken) else 400
    session.commit()
    if by_invite:
        return _invite_page(user, token)
    flash(f"{user.name} can now sign in with the first password you set.")
    return redirect(url_for(".roster"))


def _invite_page(person: User, token: str) -> Response:
    """The roster with a new invite link shown once, to pass on to `person`."""
    link = web.settings().public_url.rstrip("/") + url_for("invites.accept", token=token)
    page = render_template(
        "console/roster.html", people=board.roster(web.db()), invited=person, invite_link=link
    )
    return no_store(page)


@bp.post("/roster/<int:user_id>/invite")
@coordinator_required
def reinvite(user_id: int) -> Response:
    """A new invite link for someone who has not set a password yet (the old one may have
    expired or been lost); earlier links still work until used or expired."""
    person = web.db().get(User, user_id) or abort(404)
    if not person.is_active or not invites.is_waiting(person):
        flash(f"{person.name} has set a password already; they can sign in.")
        return redirect(url_for(".roster"))
    token = invites.new_link(web.db(), person, current_user(), web.now())
    web.db().commit()
    return _invite_page(person, token)


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.replace(";", ",").split(",") if w.strip()]


@bp.post("/roster/<int:user_id>/deactivate")
@coordinator_required
def deactivate(user_id: int) -> Response:
    """Signed out everywhere, set offline, and their conversations handed on by the rules."""
    person = web.db().get(User, user_id)
    if person is None:
        abort(404)
    if person.id == current_user().id:
        flash("You cannot deactivate yourself.")
        return redirect(url_for(".roster"))
    if person.is_active:
        users.deactivate(web.db(), person, web.now())
        web.db().commit()
        queues.apply_handoff_rules(web.redis())
    flash(f"{person.name} is deactivated; their conversations are being handed on.")
    return redirect(url_for(".roster"))


@bp.route("/roster/<int:user_id>/calendar-feed", methods=["GET", "POST"])
@coordinator_required
def calendar_feed_link(user_id: int) -> Response:
    """Someone's private calendar feed: whether they have one, and (POST) a new address."""
    person = web.db().get(User, user_id) or abort(404)
    token = None
    if request.method == "POST":
        token = calendar_feed.reset_token(web.db(), person, current_user(), web.now())
        web.db().commit()
    return feeds.link_page(person, token, url_for(".roster"))


def parse_day(text: str | None, name: str = "week") -> date | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        abort(400, f"{name} must be a date like 2026-03-02")
    if not 1971 <= day.year <= 2999:
        abort(400, f"{name} must fall between 1971 and 2999")
    return day


@bp.get("/audit")
@coordinator_required
def audit_log() -> Response:
    convo = request.args.get("conversation_id", "").strip()
    action = request.args.get("action", "").strip()
    if convo and not (convo.isdigit() and len(convo) < 10):
        abort(400, "conversation_id must be a whole number")
    rows = audit.recent(web.db(), int(convo) if convo else None, action or None, AUDIT_PAGE)
    names = {u.id: u.name for u in web.db().query(User).all()}
    context = {"rows": rows, "names": names, "conversation_id": convo, "action": action}
    return no_store(render_template("console/audit.html", actions=audit.ACTIONS, **context))


@bp.get("/jobs")
@coordinator_required
def failed_jobs() -> Response:
    """RQ's failed jobs, the latest first: what failed and why, never a job's arguments."""
    found = queues.failed_jobs(web.redis())
    context = {"jobs": found[:JOBS_PAGE], "total": len(found)}
    return no_store(render_template("console/jobs.html", **context))


@bp.post("/jobs/<job_id>/retry")
@coordinator_required
def retry_failed_job(job_id: str) -> Response:
    """Put one failed job back on its queue; every job is idempotent, so this is always safe."""
    queue = queues.retry_failed(web.redis(), job_id[:200])
    if queue is None:
        flash(f"No failed job {job_id[:200]}: it may have been retried already.")
    else:
        flash(f"Job {job_id} is back on the {queue} queue.")
    return redirect(url_for(".failed_jobs"))


@bp.post("/jobs/retry")
@coordinator_required
def retry_all_failed_jobs() -> Response:
    retried = queues.retry_all_failed(web.redis())
    flash(f"{retried} failed job{'s' if retried != 1 else ''} back on their queues.")
    return redirect(url_for(".failed_jobs"))


@bp.app_template_filter("waited")
def waited(since: datetime | None) -> str:
    """A wait as a coordinator reads it: "4 min", "1 h 12 min"."""
    if since is None:
        return ""
    minutes = max(0, int((web.now() - since).total_seconds() // 60))
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


@bp.app_template_filter("local")
def local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %-d %b %H:%M")


# The calendar and the reports live in modules of their own; their routes join this blueprint.
from helpline import console_calendar, console_reports  # noqa: E402, F401
