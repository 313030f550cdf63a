"""The supporter's inbox: my conversations, a thread, reply, close, presence."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from helpline import web
from helpline.auth import current_user, login_required
from helpline.models import Conversation
from helpline.services import assignment, handoffs, inbox, outbound, users
from helpline.services.texters import alias
from routing.channel import reply_window_closes_at
from workers import queues

bp = Blueprint("inbox", __name__, url_prefix="/inbox")
MAX_REPLY = 1600


@bp.app_template_filter("alias")
def alias_filter(convo: Conversation) -> str:
    return alias(convo.texter_id, web.settings().secret_key)


def _partial(full: str, partial: str, **context: object) -> str:
    """The whole page, or only its live part when htmx asks for it."""
    return render_template(partial if request.headers.get("HX-Request") else full, **context)


@bp.get("")
@login_required
def index() -> str:
    rows = inbox.my_conversations(web.db(), current_user())
    offers = inbox.offered_to(web.db(), current_user())
    return _partial("inbox/index.html", "inbox/_list.html", rows=rows, offers=offers)


def _thread_page(convo: Conversation, **context: object) -> str:
    closes = reply_window_closes_at(convo.channel, convo.last_inbound_at)
    return _partial(
        "inbox/thread.html",
        "inbox/_thread.html",
        convo=convo,
        entries=inbox.thread(convo),
        window_closes_at=closes,
        window_closed=closes is not None and closes <= web.now(),
        **context,
    )


def _visible(conversation_id: int) -> Conversation:
    convo = inbox.visible_to(web.db(), current_user(), conversation_id)
    if convo is None:
        abort(404)  # not "forbidden": do not confirm that someone else's conversation exists
    return convo


def _held(conversation_id: int, coordinators: bool) -> Conversation:
    """The conversation if the caller holds it (or, with `coordinators`, runs the line):
    reading it, or having it offered, is not enough to act on it."""
    convo = _visible(conversation_id)
    me = current_user()
    if convo.supporter_id != me.id and not (coordinators and me.role == "coordinator"):
        abort(403)
    return convo


@bp.get("/conversations/<int:conversation_id>")
@login_required
def conversation(conversation_id: int) -> Response:
    convo = _visible(conversation_id)
    page = _partial(
        "inbox/thread.html", "inbox/_thread.html", convo=convo, entries=inbox.thread(convo)
    )
    response = Response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/conversations/<int:conversation_id>/reply")
@login_required
def reply(conversation_id: int) -> Response | tuple[str, int]:
    convo = _held(conversation_id, coordinators=False)
    body = request.form.get("body", "")
    error = None
    if not body.strip() or len(body) > MAX_REPLY:
        error, status = f"A reply is 1 to {MAX_REPLY} characters.", 400
    else:
        try:
            message = assignment.reply(web.db(), convo, body, current_user(), web.now())
        except outbound.OptedOut:
            error, status = "This texter has opted out (STOP); nothing can be sent.", 409
        except assignment.NotOpen as exc:
            error, status = f"Nothing can be sent: {exc}.", 409
    if error:
        return _thread_page(convo, error=error, draft=body), status
    web.db().commit()
    queues.send_text(web.redis(), message.id)
    return redirect(url_for(".conversation", conversation_id=convo.id))


@bp.post("/conversations/<int:conversation_id>/close")
@login_required
def close(conversation_id: int) -> Response:
    convo = _held(conversation_id, coordinators=True)
    if convo.status == "closed":
        return redirect(url_for(".index"))
    note = request.form.get("note", "").strip()[:2000] or None
    me = current_user()
    texts = assignment.close(web.db(), convo, web.now(), f"closed by {me.name}", me.id, note)
    web.db().commit()
    queues.send_texts(web.redis(), [t.id for t in texts])
    queues.route_queue(web.redis())
    flash("Conversation closed.")
    return redirect(url_for(".index"))


@bp.post("/status")
@login_required
def status() -> Response:
    me = current_user()
    try:
        users.set_status(me, request.form.get("status", ""), web.now())
    except users.UserError:
        abort(400)
    web.db().commit()
    if me.status == "available":
        queues.route_queue(web.redis())
    elif me.status == "offline":
        queues.apply_handoff_rules(web.redis())
    return redirect(url_for(".index"))


@bp.post("/conversations/<int:conversation_id>/accept")
@login_required
def accept(conversation_id: int) -> Response:
    convo = _visible(conversation_id)
    try:
        texts = handoffs.accept(web.db(), convo, current_user(), web.now())
    except handoffs.NotOffered:
        flash("That handoff is no longer offered to you.")
        return redirect(url_for(".index"))
    web.db().commit()
    queues.send_texts(web.redis(), [t.id for t in texts])
    return redirect(url_for(".conversation", conversation_id=convo.id))


@bp.post("/conversations/<int:conversation_id>/decline")
@login_required
def decline(conversation_id: int) -> Response:
    convo = _visible(conversation_id)
    try:
        handoffs.decline(web.db(), convo, current_user(), web.now())
    except handoffs.NotOffered:
        flash("That handoff is no longer offered to you.")
        return redirect(url_for(".index"))
    web.db().commit()
    queues.apply_handoff_rules(web.redis())
    return redirect(url_for(".index"))
