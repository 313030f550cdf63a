"""API: the queue and conversations: read, reply, transfer, close."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import select

from helpline import web
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
)
from helpline.api import render as views
from helpline.models import Conversation, User
from helpline.services import assignment, handoffs, outbound, outcomes, snapshots
from routing.policy import queue_order
from workers import queues

MAX_REPLY = 1600  # Twilio's limit for one (concatenated) message body


@bp.get("/queue")
@requires("coordinator")
def get_queue() -> Response:
    session = web.db()
    rows = {
        c.id: c
        for c in session.scalars(select(Conversation).where(Conversation.status == "queued"))
    }
    ordered = queue_order([snapshots.conversation(c) for c in rows.values()])
    return jsonify(items=[views.queue_entry(rows[c.id]) for c in ordered], next=None)


@bp.get("/conversations")
@requires()
def list_conversations() -> Response:
    me = current_user()
    status = request.args.get("status")
    query = select(Conversation).where(Conversation.id > after_id()).order_by(Conversation.id)
    if status:
        if status not in ("queued", "active", "closed"):
            raise fail(400, "status must be queued, active or closed")
        query = query.where(Conversation.status == status)
    if me.role != "coordinator":
        query = query.where(Conversation.supporter_id == me.id)
    rows = web.db().scalars(query.limit(1001)).all()
    for_staff = me.role == "coordinator"
    params = {"status": status} if status else {}
    return page(
        rows, lambda c: views.conversation_summary(c, for_staff), "api.list_conversations", **params
    )


def _visible(conversation_id: int) -> Conversation:
    """The conversation, if the caller may see it: coordinators, or the assigned supporter."""
    convo: Conversation = get_or_404(Conversation, conversation_id)
    me = current_user()
    if me.role != "coordinator" and me.id not in (convo.supporter_id, convo.offered_to_id):
        raise fail(403, "this conversation is not assigned to you")
    return convo


def _held(conversation_id: int) -> Conversation:
    """The conversation, if the caller may act on it: coordinators, or the supporter holding it
    (the one it is offered to may read it, and accept or decline, nothing more)."""
    convo = _visible(conversation_id)
    me = current_user()
    if me.role != "coordinator" and me.id != convo.supporter_id:
        raise fail(403, "this conversation is not assigned to you (yet)")
    return convo


@bp.get("/conversations/<int:conversation_id>")
@requires()
def get_conversation(conversation_id: int) -> Response:
    convo = _visible(conversation_id)
    return jsonify(views.conversation_detail(convo, current_user().role == "coordinator"))


@bp.post("/conversations/<int:conversation_id>/messages")
@requires()
def post_message(conversation_id: int) -> tuple[Response, int]:
    convo = _visible(conversation_id)
    if convo.supporter_id != current_user().id:
        raise fail(403, "only the supporter this conversation is assigned to can reply")
    body = json_body().get("body")
    if not isinstance(body, str) or not body.strip():
        raise fail(400, "body must be a non-empty text")
    if len(body) > MAX_REPLY:
        raise fail(400, f"body must be at most {MAX_REPLY} characters")
    session = web.db()
    try:
        message = assignment.reply(session, convo, body, current_user(), web.now())
    except outbound.OptedOut as exc:
        raise fail(409, "the texter has opted out (STOP); nothing can be sent") from exc
    except assignment.NotOpen as exc:
        raise fail(409, str(exc)) from exc
    session.commit()
    queues.texts_made(web.redis(), [message.id])
    return jsonify(views.message(message)), 202


@bp.post("/conversations/<int:conversation_id>/transfer")
@requires()
def transfer(conversation_id: int) -> Response:
    convo = _held(conversation_id)
    data = json_body()
    note = data.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        raise fail(400, "note must be a text of at most 2000 characters")
    if convo.status == "closed":
        raise fail(409, "the conversation is closed")
    session = web.db()
    target, skill = _transfer_target(data)
    if target is not None and target.id == convo.supporter_id:
        raise fail(409, "the conversation is already with that supporter")
    texts = handoffs.transfer(session, convo, web.now(), current_user(), note, target, skill)
    session.commit()
    queues.texts_made(web.redis(), [t.id for t in texts])
    return jsonify(views.conversation_detail(convo, current_user().role == "coordinator"))


def _transfer_target(data: dict[str, Any]) -> tuple[User | None, str | None]:
    if ("supporter_id" in data) == ("skill" in data):
        raise fail(400, "give exactly one of supporter_id or skill")
    supporter_id, skill = data.get("supporter_id"), data.get("skill")
    if "skill" in data:
        if not isinstance(skill, str) or not skill.strip() or len(skill) > 40:
            raise fail(400, "skill must be a short text")
        return None, skill.strip().lower()
    if not whole(supporter_id):
        raise fail(400, "supporter_id must be a whole number")
    target = web.db().get(User, supporter_id)
    if target is None or not target.is_active:
        raise fail(404, f"no active supporter with id {supporter_id}")
    return target, None


@bp.post("/conversations/<int:conversation_id>/close")
@requires()
def close(conversation_id: int) -> Response:
    convo = _held(conversation_id)
    data = json_body() if request.get_data() else {}  # the body is optional
    note = data.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        raise fail(400, "note must be a text of at most 2000 characters")
    outcome = data.get("outcome")
    if outcome is not None and not outcomes.is_outcome(outcome):
        raise fail(400, outcomes.reason_for_unknown())
    if convo.status == "closed":
        raise fail(409, "the conversation is already closed")
    session = web.db()
    me = current_user()
    reason = f"closed by {me.name}"
    texts = assignment.close(session, convo, web.now(), reason, me.id, note, outcome=outcome)
    session.commit()
    queues.texts_made(web.redis(), [t.id for t in texts])
    queues.route_queue(web.redis())
    return jsonify(views.conversation_detail(convo, me.role == "coordinator"))


@bp.post("/conversations/<int:conversation_id>/escalate")
@requires()
def escalate(conversation_id: int) -> Response:
    """Urgent and crisis-only; handed on unless the holder is crisis-trained."""
    convo = _held(conversation_id)
    data = json_body() if request.get_data() else {}  # the body is optional
    note = data.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        raise fail(400, "note must be a text of at most 2000 characters")
    if convo.status == "closed":
        raise fail(409, "the conversation is closed")
    session = web.db()
    me = current_user()
    try:
        texts = handoffs.escalate(session, convo, me, (note or "").strip() or None, web.now())
    except handoffs.AlreadyEscalated as exc:
        raise fail(409, str(exc)) from exc
    session.commit()
    queues.texts_made(web.redis(), [t.id for t in texts])
    return jsonify(views.conversation_detail(convo, me.role == "coordinator"))


@bp.post("/conversations/<int:conversation_id>/accept")
@requires()
def accept(conversation_id: int) -> Response:
    """The supporter a warm handoff is offered to takes the conversation."""
    convo = _visible(conversation_id)
    session = web.db()
    try:
        texts = handoffs.accept(session, convo, current_user(), web.now())
    except handoffs.NotOffered as exc:
        raise fail(409, str(exc)) from exc
    session.commit()
    queues.texts_made(web.redis(), [t.id for t in texts])
    return jsonify(views.conversation_detail(convo, current_user().role == "coordinator"))


@bp.post("/conversations/<int:conversation_id>/decline")
@requires()
def decline(conversation_id: int) -> Response:
    convo = _visible(conversation_id)
    session = web.db()
    try:
        handoffs.decline(session, convo, current_user(), web.now())
    except handoffs.NotOffered as exc:
        raise fail(409, str(exc)) from exc
    session.commit()
    queues.apply_handoff_rules(web.redis())
    return jsonify(views.conversation_detail(convo, current_user().role == "coordinator"))


@bp.post("/conversations/<int:conversation_id>/notes")
@requires()
def add_note(conversation_id: int) -> tuple[Response, int]:
    """A note for staff only (a handoff note before a shift ends): never sent to the texter."""
    convo = _held(conversation_id)
    note = json_body().get("note")
    if not isinstance(note, str) or not note.strip() or len(note) > 2000:
        raise fail(400, "note must be 1 to 2000 characters")
    session = web.db()
    me = current_user()
    event = assignment.add_note(session, convo, me, note.strip(), web.now())
    session.commit()
    return jsonify(views.event(event)), 201
