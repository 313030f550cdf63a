"""API: health, tokens, supporters and their status, shifts, settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from helpline import auditing, signin, web
from helpline.api import (
    after_id,
    bp,
    current_user,
    fail,
    get_or_404,
    json_body,
    page,
    requires,
    whole,
    whole_arg,
)
from helpline.models import Shift, User
from helpline.services import settings as settings_service
from helpline.services import shifts, snapshots, users
from workers import queues


@bp.get("/health")
def health() -> tuple[Response, int]:
    problems = []
    try:
        web.db().execute(text("SELECT 1"))
    except SQLAlchemyError:
        problems.append("database")
    try:
        web.redis().ping()
    except RedisError:
        problems.append("redis")
    if problems:
        return jsonify(status="unavailable", failing=problems), 503
    return jsonify(status="ok"), 200


@bp.post("/tokens")
def create_token() -> tuple[Response, int]:
    data = json_body()
    email, password = data.get("email"), data.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        raise fail(400, "email and password are required")
    session = web.db()
    try:
        user = signin.authenticate(email, password)
    except signin.Throttled as exc:
        raise fail(429, "too many failed attempts; wait 15 minutes") from exc
    if user is None:
        raise fail(401, "wrong email or password")
    token = users.issue_token(session, user)
    session.commit()
    return jsonify(token=token), 201


def render_user(user: User, active: int | None = None) -> dict[str, Any]:
    if active is None:
        active = snapshots.active_counts(web.db(), [user.id]).get(user.id, 0)
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "skills": user.skills,
        "languages": user.languages,
        "max_conversations": user.max_conversations,
        "skill_expiry": user.skill_expiry,
        "timezone": user.timezone,
        "is_active": user.is_active,
        "status": user.status,
        "active_conversations": active,
    }


@bp.post("/supporters")
@requires("coordinator")
def create_supporter() -> tuple[Response, int]:
    data = json_body()
    session = web.db()
    try:
        user = users.create_user(session, **_user_fields(data, creating=True))
    except users.EmailTaken as exc:
        raise fail(409, str(exc)) from exc
    except (users.UserError, TypeError) as exc:
        raise fail(400, str(exc)) from exc
    session.commit()
    return jsonify(render_user(user, 0)), 201


def _user_fields(data: dict[str, Any], creating: bool) -> dict[str, Any]:
    data = dict(data)
    if creating:
        data.setdefault("role", "supporter")
        for key in ("email", "name", "password"):
            data.setdefault(key, None)
    return data


@bp.get("/supporters")
@requires("coordinator")
def list_supporters() -> Response:
    session = web.db()
    rows = session.scalars(select(User).where(User.id > after_id()).order_by(User.id)).all()
    counts = snapshots.active_counts(session)
    return page(rows, lambda u: render_user(u, counts.get(u.id, 0)), "api.list_supporters")


def _own_or_coordinator(user_id: int) -> User:
    me = current_user()
    if me.role != "coordinator" and me.id != user_id:
        raise fail(403, "you may only see your own record")
    return get_or_404(User, user_id)  # type: ignore[no-any-return]


@bp.get("/supporters/<int:user_id>")
@requires()
def get_supporter(user_id: int) -> Response:
    return jsonify(render_user(_own_or_coordinator(user_id)))


@bp.patch("/supporters/<int:user_id>")
@requires("coordinator")
def patch_supporter(user_id: int) -> Response:
    user = get_or_404(User, user_id)
    session = web.db()
    was_active = user.is_active
    try:
        users.update_user(session, user, json_body())
    except users.EmailTaken as exc:
        raise fail(409, str(exc)) from exc
    except users.UserError as exc:
        raise fail(400, str(exc)) from exc
    if was_active and not user.is_active:
        users.deactivate(session, user, web.now())  # and their conversations handed on
    session.commit()
    queues.apply_handoff_rules(web.redis())
    return jsonify(render_user(user))


@bp.put("/supporters/<int:user_id>/status")
@requires()
def put_status(user_id: int) -> Response:
    user = _own_or_coordinator(user_id)
    status = json_body().get("status")
    try:
        users.set_status(user, str(status), web.now())
    except users.UserError as exc:
        raise fail(400, str(exc)) from exc
    web.db().commit()
    if status == "available":
        queues.route_queue(web.redis())
    elif status == "offline":
        queues.apply_handoff_rules(web.redis())
    return jsonify(render_user(user))


EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)
LONGEST_WINDOW = timedelta(days=366)


def parse_time(value: object, name: str) -> datetime:
    """An ISO 8601 time with an offset, from 1970 to 2999 (so that any shift arithmetic on it
    stays within what datetime can hold); 400 otherwise."""
    if not isinstance(value, str):
        raise fail(400, f"{name} must be an ISO 8601 time with an offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(400, f"{name} must be an ISO 8601 time with an offset") from exc
    if parsed.tzinfo is None:
        raise fail(400, f"{name} needs a UTC offset (e.g. +00:00 or Z)")
    if not EARLIEST <= parsed < LATEST:
        raise fail(400, f"{name} must be a time from 1970 to 2999")
    return parsed


def render_occurrence(o: shifts.Occurrence) -> dict[str, Any]:
    return {
        "shift_id": o.shift_id,
        "supporter_id": o.supporter_id,
        "starts_at": o.starts_at.isoformat(),
        "ends_at": o.ends_at.isoformat(),
    }


@bp.post("/shifts")
@requires("coordinator")
def create_shift() -> tuple[Response, int]:
    data = json_body()
    supporter_id = data.get("supporter_id")
    if not whole(supporter_id):
        raise fail(400, "supporter_id must be the id of a supporter")
    get_or_404(User, supporter_id)
    rrule, timezone = data.get("rrule"), data.get("timezone", "UTC")
    if rrule is not None and not isinstance(rrule, str):
        raise fail(400, "rrule must be a text")
    if not isinstance(timezone, str):
        raise fail(400, "timezone must be an IANA zone name")
    session = web.db()
    try:
        shift = shifts.create_shift(
            session,
            supporter_id,
            parse_time(data.get("starts_at"), "starts_at"),
            parse_time(data.get("ends_at"), "ends_at"),
            rrule,
            timezone or "UTC",
        )
    except shifts.ShiftError as exc:
        raise fail(400, str(exc)) from exc
    session.commit()
    queues.route_queue(web.redis())
    return jsonify(
        id=shift.id,
        supporter_id=shift.supporter_id,
        starts_at=shift.starts_at.isoformat(),
        ends_at=shift.ends_at.isoformat(),
        rrule=shift.rrule,
        timezone=shift.timezone,
    ), 201


@bp.get("/shifts")
@requires()
def list_shifts() -> Response:
    me = current_user()
    start, end = shifts.default_window(web.now())
    if request.args.get("from"):
        start = parse_time(request.args["from"], "from")
    if request.args.get("to"):
        end = parse_time(request.args["to"], "to")
    if end - start > LONGEST_WINDOW:
        raise fail(400, "from and to may be at most 366 days apart")
    supporter_id = whole_arg("supporter_id")
    if me.role != "coordinator":
        if supporter_id not in (None, me.id):
            raise fail(403, "you may only list your own shifts")
        supporter_id = me.id
    found = shifts.list_occurrences(web.db(), start, end, supporter_id)
    return jsonify(items=[render_occurrence(o) for o in found[:1000]], next=None)


@bp.post("/shifts/<int:shift_id>/cancel")
@requires("coordinator")
def cancel_occurrence(shift_id: int) -> Response:
    """Cancel one occurrence of a (recurring) shift: `{"occurrence": start time}`."""
    shift = get_or_404(Shift, shift_id)
    occurrence = parse_time(json_body().get("occurrence"), "occurrence")
    try:
        shifts.cancel_occurrence(web.db(), shift, occurrence)
    except shifts.ShiftError as exc:
        raise fail(400, str(exc)) from exc
    web.db().commit()
    queues.apply_handoff_rules(web.redis())
    return jsonify(id=shift.id, cancelled=shift.cancelled)


@bp.post("/shifts/<int:shift_id>/move")
@requires("coordinator")
def move_occurrence(shift_id: int) -> tuple[Response, int]:
    """Move one occurrence: `{"occurrence", "starts_at", "ends_at"}`; answers the new shift."""
    shift = get_or_404(Shift, shift_id)
    data = json_body()
    try:
        moved = shifts.move_occurrence(
            web.db(),
            shift,
            parse_time(data.get("occurrence"), "occurrence"),
            parse_time(data.get("starts_at"), "starts_at"),
            parse_time(data.get("ends_at"), "ends_at"),
        )
    except shifts.ShiftError as exc:
        raise fail(400, str(exc)) from exc
    web.db().commit()
    queues.apply_handoff_rules(web.redis())
    return jsonify(
        id=moved.id,
        supporter_id=moved.supporter_id,
        starts_at=moved.starts_at.isoformat(),
        ends_at=moved.ends_at.isoformat(),
    ), 201


@bp.delete("/shifts/<int:shift_id>")
@requires("coordinator")
def delete_shift(shift_id: int) -> tuple[str, int]:
    shift = get_or_404(Shift, shift_id)
    session = web.db()
    session.delete(shift)
    session.commit()
    return "", 204


@bp.get("/settings")
@requires("coordinator")
def get_settings() -> Response:
    return jsonify(settings_service.load(web.db()))


@bp.patch("/settings")
@requires("coordinator")
def patch_settings() -> Response:
    session = web.db()
    try:
        changes = json_body()
        values = settings_service.update(session, changes)
    except settings_service.SettingsError as exc:
        raise fail(400, str(exc)) from exc
    session.commit()
    auditing.record_change("settings", keys=sorted(changes))
    return jsonify(values)
