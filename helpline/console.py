"""The coordinator console: live board, roster, week calendar with coverage, audit log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from helpline import web
from helpline.auth import current_user, login_required
from helpline.models import Conversation, Shift, User
from helpline.services import audit, board, coverage, handoffs, shifts, users
from routing.coverage import week_start
from workers import queues

bp = Blueprint("console", __name__, url_prefix="/console")
F = TypeVar("F", bound=Callable[..., Any])
MAX_NOTE = 2000
POLL_SECONDS = 5
AUDIT_PAGE = 200


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
    """The live board; htmx polls it and gets only the board back."""
    context = {"board": board.live_board(web.db(), web.now()), "now": web.now()}
    if _is_htmx():
        return no_store(render_template("console/_board.html", **context))
    return no_store(render_template("console/live.html", poll=POLL_SECONDS, **context))


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
    queues.send_texts(web.redis(), [t.id for t in texts])
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
    try:
        user = users.create_user(
            session, form.get("email", ""), form.get("name", ""), form.get("password", ""), **fields
        )
    except users.UserError as exc:
        session.rollback()  # a refused insert leaves nothing behind to read past
        people = board.roster(session)
        page = render_template("console/roster.html", people=people, error=str(exc), form=form)
        return page, 409 if isinstance(exc, users.EmailTaken) else 400
    session.commit()
    flash(f"{user.name} can now sign in with the first password you set.")
    return redirect(url_for(".roster"))


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


@bp.get("/calendar")
@coordinator_required
def calendar() -> Response:
    session = web.db()
    zone = coverage.helpline_zone(session)
    today = web.now().astimezone(ZoneInfo(zone)).date()
    monday = week_start(_day(request.args.get("week")) or today)
    return no_store(render_template("console/calendar.html", **_week(monday, zone)))


def _week(monday: date, zone: str) -> dict[str, Any]:
    session = web.db()
    occurs = coverage.week_occurrences(session, monday, zone)
    hours = coverage.coverage_for_week(session, monday, zone, web.now(), occurs)
    return {
        "monday": monday,
        "days": [monday + timedelta(days=d) for d in range(7)],
        "grid": {(h.day, h.hour): h for h in hours},
        "zone": zone,
        "names": {u.id: u.name for u in board.reassign_choices(session)},
        "people": board.reassign_choices(session),
        "occurrences": occurs,
        "previous": monday - timedelta(days=7),
        "next": monday + timedelta(days=7),
    }


REPEATS = {"": None, "daily": "FREQ=DAILY", "weekly": "FREQ=WEEKLY"}


@bp.post("/calendar/shifts")
@coordinator_required
def add_shift() -> Response | tuple[str, int]:
    """A shift in the helpline's local time, once or repeating; an end at or before the
    start runs past midnight."""
    session = web.db()
    zone = coverage.helpline_zone(session)
    form = request.form
    day = _day(form.get("day"), "day") or abort(400, "day must be a date like 2026-03-02")
    try:
        person = session.get(User, int(form.get("supporter_id", "")[:9]))
        begins, ends = _clock(form.get("starts", "")), _clock(form.get("ends", ""))
        repeat = REPEATS[form.get("repeat", "")]
    except (ValueError, KeyError):
        person = None
    monday = week_start(day)
    if person is None or not person.is_active:
        return _calendar_error(monday, zone, "Choose a supporter, a start and an end time.")
    starts_at = datetime.combine(day, begins, ZoneInfo(zone))
    ends_at = datetime.combine(day + timedelta(days=int(ends <= begins)), ends, ZoneInfo(zone))
    try:
        shifts.create_shift(session, person.id, starts_at, ends_at, repeat, zone)
    except shifts.ShiftError as exc:
        session.rollback()
        return _calendar_error(monday, zone, str(exc))
    session.commit()
    queues.route_queue(web.redis())  # someone new may be on shift now
    flash(f"Shift added for {person.name}.")
    return redirect(url_for(".calendar", week=monday.isoformat()))


def _clock(text: str) -> time:
    return time.fromisoformat(text.strip()[:5]).replace(second=0)


def _calendar_error(monday: date, zone: str, why: str) -> tuple[str, int]:
    page = render_template("console/calendar.html", error=why, **_week(monday, zone))
    return page, 400


@bp.post("/calendar/shifts/<int:shift_id>/cancel")
@coordinator_required
def cancel_shift(shift_id: int) -> Response | tuple[str, int]:
    """One occurrence will not happen; the rest of a repeating shift stays."""
    session = web.db()
    shift = session.get(Shift, shift_id)
    if shift is None:
        abort(404)
    zone = coverage.helpline_zone(session)
    try:
        occurrence = datetime.fromisoformat(request.form.get("occurrence", ""))
        if occurrence.tzinfo is None:
            raise ValueError("no offset")
        shifts.cancel_occurrence(session, shift, occurrence)
    except (ValueError, OverflowError) as exc:
        session.rollback()
        return _calendar_error(
            week_start(web.now().astimezone(ZoneInfo(zone)).date()), zone, str(exc)
        )
    session.commit()
    queues.apply_handoff_rules(web.redis())  # someone may be off shift now
    flash("That shift will not happen.")
    monday = week_start(occurrence.astimezone(ZoneInfo(zone)).date())
    return redirect(url_for(".calendar", week=monday.isoformat()))


def _day(text: str | None, name: str = "week") -> date | None:
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
