"""Blocked texters, for coordinators: block from a conversation or by number, list, unblock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify

from helpline import web
from helpline.api import bp, current_user, fail, get_or_404, json_body, requires
from helpline.api.people import parse_time
from helpline.api.render import iso
from helpline.models import Conversation, Texter
from helpline.services import blocking, intake
from helpline.services.texters import alias
from workers import queues


def render(texter: Texter) -> dict[str, Any]:
    return {
        "id": texter.id,
        "alias": alias(texter.id, web.settings().secret_key),
        "address": texter.address,  # coordinators only: every route here requires the role
        "reason": texter.blocked_reason,
        "blocked_at": iso(texter.blocked_at),
        "until": iso(texter.blocked_until),
        "blocked_by_id": texter.blocked_by_id,
    }


def _block_request() -> tuple[str, datetime | None]:
    data = json_body()
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise fail(400, "reason must be 1 to 500 characters")
    until = None
    if data.get("until") is not None:
        until = parse_time(data["until"], "until")
        if until <= web.now():
            raise fail(400, "until must be in the future")
    return reason.strip(), until


@bp.post("/conversations/<int:conversation_id>/block")
@requires("coordinator")
def block_conversation(conversation_id: int) -> Response:
    """Block the texter of this conversation; the conversation closes without a text."""
    reason, until = _block_request()
    convo: Conversation = get_or_404(Conversation, conversation_id)
    session = web.db()
    blocking.block(session, convo.texter, reason, until, current_user(), web.now())
    session.commit()
    queues.route_queue(web.redis())  # a supporter may have room now
    return jsonify(render(convo.texter))


@bp.post("/blocked")
@requires("coordinator")
def block_number() -> tuple[Response, int]:
    """Block a number, whether or not it has texted yet."""
    reason, until = _block_request()
    number = json_body().get("number")
    if not isinstance(number, str) or not intake.is_address(number):
        raise fail(400, "number must be a phone number (E.164) or a whatsapp: address")
    session = web.db()
    texter = blocking.texter_for_number(session, number, web.now())
    blocking.block(session, texter, reason, until, current_user(), web.now())
    session.commit()
    queues.route_queue(web.redis())
    return jsonify(render(texter)), 201


@bp.get("/blocked")
@requires("coordinator")
def list_blocked() -> Response:
    rows = blocking.blocked(web.db(), web.now())
    return jsonify(items=[render(t) for t in rows], next=None)


@bp.delete("/blocked/<int:texter_id>")
@requires("coordinator")
def unblock(texter_id: int) -> tuple[str, int]:
    texter: Texter = get_or_404(Texter, texter_id)
    if not blocking.is_blocked(texter, web.now()):
        raise fail(404, f"texter {texter_id} is not blocked")
    session = web.db()
    blocking.unblock(session, texter, current_user(), web.now())
    session.commit()
    return "", 204
