"""The console's week calendar: shifts made, moved and cancelled, over coverage against
demand. Its routes belong to the console blueprint."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from helpline import web
from helpline.auth import current_user
from helpline.console import bp, coordinator_required, no_store, parse_day
from helpline.models import Shift, User
from helpline.services import audit, board, coverage, shifts
from routing.coverage import week_start
from workers import queues


@bp.get("/calendar")
@coordinator_required
def calendar() -> Response:
    session = web.db()
    zone = coverage.helpline_zone(session)
    today = web.now().astimezone(ZoneInfo(zone)).date()
    monday = week_start(parse_day(request.args.get("week")) or today)
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
    day = parse_day(form.get("day"), "day") or abort(400, "day must be a date like 2026-03-02")
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
    day = parse_day(form.get("day"), "day") or abort(400, "day must be a date like 2026-03-02")
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
