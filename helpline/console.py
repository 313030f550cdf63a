"""The coordinator console: live board, roster, week calendar with coverage, audit log,
reports, and the jobs that failed for good."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from helpline import charts, feeds, web
from helpline.auth import current_user, login_required
from helpline.inbox import event_stream, live_url
from helpline.live import notices
from helpline.models import Conversation, Shift, User
from helpline.services import (
    audit,
    board,
    calendar_feed,
    coverage,
    handoffs,
    invites,
    reports,
    shifts,
    users,
)
from routing.coverage import week_start
from routing.reports import Report
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
        "tz": ZoneInfo(zone),
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


SCOPES = {"one": False, "following": True}


@bp.post("/calendar/shifts/<int:shift_id>/move")
@coordinator_required
def move_shift(shift_id: int) -> Response | tuple[str, int]:
    """Move one occurrence (a one-off shift, or this one of a series), or this and all
    following, to another day and time in the helpline's zone, and optionally to someone else."""
    session = web.db()
    shift = session.get(Shift, shift_id) or abort(404)
    zone = coverage.helpline_zone(session)
    form = request.form
    try:
        occurrence = datetime.fromisoformat(form.get("occurrence", "")[:40])
        if occurrence.tzinfo is None or not 1971 <= occurrence.year <= 2999:
            raise ValueError("no offset, or out of range")
        monday = week_start(occurrence.astimezone(ZoneInfo(zone)).date())
    except (ValueError, OverflowError):
        abort(400, "occurrence must be the start of a shift, with its offset")
    day = _day(form.get("day"), "day") or abort(400, "day must be a date like 2026-03-02")
    raw_who = form.get("supporter_id", "").strip()
    try:
        begins, ends = _clock(form.get("starts", "")), _clock(form.get("ends", ""))
        following = SCOPES[form.get("scope", "one")]
        person = session.get(User, int(raw_who[:9])) if raw_who else shift.supporter
    except (ValueError, KeyError):
        person = None
    if person is None or not person.is_active:
        return _calendar_error(monday, zone, "Choose who works it, a start and an end time.")
    starts_at = datetime.combine(day, begins, ZoneInfo(zone))
    ends_at = datetime.combine(day + timedelta(days=int(ends <= begins)), ends, ZoneInfo(zone))
    try:
        moved = shifts.move_shift(
            session, shift, occurrence, starts_at, ends_at, following, person.id
        )
    except shifts.ShiftError as exc:
        session.rollback()
        return _calendar_error(monday, zone, str(exc))
    detail = {
        "shift_id": shift.id,
        "occurrence": occurrence.isoformat(),
        "to": starts_at.isoformat(),
        "following": following,
        "now_shift_id": moved.id,
        "supporter_id": person.id,
    }
    audit.record(session, audit.SHIFT_MOVED, web.now(), actor_id=current_user().id, detail=detail)
    session.commit()
    queues.apply_handoff_rules(web.redis())  # someone may be off shift now
    queues.route_queue(web.redis())  # and someone else on
    flash(f"Shift moved for {person.name}.")
    return redirect(url_for(".calendar", week=week_start(day).isoformat()))


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


REPORT_DAYS = 28  # the default range: the last four weeks, today included
MAX_REPORT_DAYS = 366


def _report_params() -> dict[str, Any]:
    """The range (local days, inclusive) and program of a report, or 400 with the reason."""
    session = web.db()
    zone = coverage.helpline_zone(session)
    last = _day(request.args.get("to"), "to") or web.now().astimezone(ZoneInfo(zone)).date()
    first = _day(request.args.get("from"), "from") or last - timedelta(days=REPORT_DAYS - 1)
    if first > last:
        abort(400, "from must not be after to")
    if (last - first).days >= MAX_REPORT_DAYS:
        abort(400, f"a report covers at most {MAX_REPORT_DAYS} days")
    programs = reports.programs(session)
    raw = request.args.get("program", "").strip()
    program_id = int(raw) if raw.isdigit() and len(raw) < 10 else None
    if raw and program_id not in {p for p, _ in programs}:
        abort(400, "program must be one of the helpline's programs")
    query = {"from": first.isoformat(), "to": last.isoformat(), "program": raw}
    return {
        "zone": zone,
        "first": first,
        "last": last,
        "program_id": program_id,
        "programs": programs,
        "query": query,
    }


def _report_tables(params: dict[str, Any]) -> tuple[Report, dict[str, reports.Table]]:
    session = web.db()
    result = reports.report(
        session, params["zone"], params["first"], params["last"], web.now(), params["program_id"]
    )
    return result, reports.tables(result, reports.supporter_names(session, result))


@bp.get("/reports")
@coordinator_required
def report_page() -> Response:
    """Figures per local day and week for a range (default the last four weeks)."""
    params = _report_params()
    result, tables = _report_tables(params)
    labels = [f.period.first.strftime("%-d %b") for f in result.days]
    week_labels = [f.period.first.strftime("%-d %b") for f in result.weeks]
    minutes = [
        None if f.first_reply_median_s is None else f.first_reply_median_s / 60 for f in result.days
    ]
    chart_list = [
        (
            "conversations",
            "Conversations per day",
            "conversations",
            labels,
            charts.bar_chart(labels, [f.conversations for f in result.days]),
        ),
        (
            "first-reply",
            "Median time to first reply per day",
            "minutes",
            labels,
            charts.bar_chart(labels, minutes),
        ),
        (
            "handoffs",
            "Handoffs per week",
            "handoffs",
            week_labels,
            charts.bar_chart(week_labels, [f.handoff_total for f in result.weeks]),
        ),
    ]
    return no_store(
        render_template(
            "console/reports.html", report=result, tables=tables, charts=chart_list, **params
        )
    )


@bp.get("/reports/<table>.csv")
@coordinator_required
def report_csv(table: str) -> Response:
    """One of the page's tables as CSV, for the same range; recorded as an export."""
    if table not in reports.TABLES:
        abort(404)
    params = _report_params()
    _, tables = _report_tables(params)
    body = reports.csv_text(tables[table])
    actor_id = current_user().id
    web.db().rollback()  # end the read, so SQLite lets the entry below be written
    try:
        with web.resources().sessions() as session, session.begin():
            audit.record(
                session,
                audit.EXPORTED,
                web.now(),
                actor_id=actor_id,
                detail={"table": table, **params["query"]},
            )
    except SQLAlchemyError:
        return Response("this export could not be recorded; try again\n", 503)
    name = f"helpline-{table}-{params['first'].isoformat()}-{params['last'].isoformat()}.csv"
    response = Response(body, 200, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    """A figure in seconds as a coordinator reads it; "no data" when there is none."""
    if seconds is None:
        return "no data"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min {whole % 60} s"
    return f"{minutes // 60} h {minutes % 60} min"


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
