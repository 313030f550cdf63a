"""The supporter's inbox: my conversations, a thread, reply, transfer, close, presence, and
the live event stream that keeps the page current without reloads."""

from __future__ import annotations

import threading

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from redis.exceptions import RedisError
from werkzeug.wrappers import Response

from helpline import feeds, web
from helpline.auth import current_user, login_required
from helpline.live import feed, notices
from helpline.models import Conversation, User
from helpline.services import (
    assignment,
    audit,
    calendar_feed,
    canned,
    handoffs,
    inbox,
    outbound,
    outcomes,
    pulling,
    shifts,
    users,
)
from helpline.services.texters import alias
from routing.channel import reply_window_closes_at
from workers import queues

bp = Blueprint("inbox", __name__, url_prefix="/inbox")
MAX_REPLY = 1600
MAX_NOTE = 2000
_doorbell_lock = threading.Lock()


@bp.app_template_filter("alias")
def alias_filter(convo: Conversation) -> str:
    return alias(convo.texter_id, web.settings().secret_key)


def _is_htmx() -> bool:
    return bool(request.headers.get("HX-Request"))


def _live_url() -> str:
    return live_url("inbox.events", current_user().id)


def live_url(endpoint: str, listener: notices.Listener) -> str:
    """The event stream, starting after the newest notice: this page shows everything before
    it. Read before the page's data, so nothing falls between the two."""
    try:
        since: str | None = feed.latest_id(web.redis(), listener)
    except RedisError:
        since = None  # the stream starts with a re-sync instead
    return url_for(endpoint, since=since)


@bp.get("")
@login_required
def index() -> str:
    live_url = None if _is_htmx() else _live_url()
    context = _list_context(request.args.get("current", type=int))
    if _is_htmx():
        return render_template("inbox/_list.html", **context)
    return render_template("inbox/index.html", live_url=live_url, **context)


def _list_context(current: int | None) -> dict[str, object]:
    """What the list of my conversations shows, with my shift clock and the pull button."""
    session, me = web.db(), current_user()
    return {
        "rows": inbox.my_conversations(session, me),
        "offers": inbox.offered_to(session, me),
        "current": current,
        "clock": shifts.shift_clock(session, me, web.now()),
        "has_room": pulling.has_room(session, me),
        "now": web.now(),
    }


def _thread_page(convo: Conversation, **context: object) -> str:
    """The thread with its actions and my other conversations, or only the thread when htmx
    refreshes it."""
    earlier = [] if _is_htmx() else _earlier(convo)
    _note_reading(convo, earlier)
    closes = reply_window_closes_at(convo.channel, convo.last_inbound_at)
    thread = {
        "convo": convo,
        "entries": inbox.thread(convo),
        "window_closes_at": closes,
        "window_closed": closes is not None and closes <= web.now(),
        "outcome_labels": outcomes.OUTCOMES,
    }
    if _is_htmx():
        return render_template("inbox/_thread.html", refreshing=True, **thread)
    live_url = _live_url()
    return render_template(
        "inbox/thread.html",
        live_url=live_url,
        handoff_note=inbox.handoff_note(convo, current_user()),
        canned_responses=[
            (r.title, canned.fill(r.body, current_user())) for r in canned.all_responses(web.db())
        ],
        earlier=earlier,
        transfer_choices=inbox.transfer_choices(web.db(), current_user()),
        **_list_context(convo.id),
        **thread,
        **context,
    )


def _earlier(convo: Conversation) -> list[Conversation]:
    """The texter's earlier conversations, read only, for the holder and coordinators."""
    if not inbox.may_see_earlier(convo, current_user()):
        return []
    return inbox.earlier_conversations(web.db(), convo)


def _note_reading(convo: Conversation, earlier: list[Conversation]) -> None:
    """The holder has the thread's texts on screen (unread counts drop), and each earlier
    conversation shown is an audited view. Written apart from the request's session, as the
    audit hook does: SQLite cannot turn a read begun while rendering into a write."""
    me = current_user()
    newest = inbox.newest_unseen(convo, me)
    if newest is None and not earlier:
        return
    # Read every id first: touching a row after the rollback would begin a new transaction.
    earlier_ids, convo_id, me_id = [old.id for old in earlier], convo.id, me.id
    web.db().rollback()
    with web.resources().sessions() as session, session.begin():
        if newest is not None:
            inbox.mark_seen(session, convo_id, me_id, newest)
        for old_id in earlier_ids:
            audit.record(
                session,
                audit.VIEWED,
                web.now(),
                conversation_id=old_id,
                actor_id=me_id,
                detail={"shown_with": convo_id},
            )


def _visible(conversation_id: int) -> Conversation:
    convo = inbox.visible_to(web.db(), current_user(), conversation_id)
    if convo is None:
        # Not "forbidden": do not confirm that someone else's conversation exists. A page
        # refreshing a thread that just left this supporter is told so in plain words.
        if _is_htmx():
            abort(Response(render_template("inbox/_gone.html"), 404, mimetype="text/html"))
        abort(404)
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
    response = Response(_thread_page(_visible(conversation_id)), mimetype="text/html")
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
    queues.texts_made(web.redis(), [message.id])
    return redirect(url_for(".conversation", conversation_id=convo.id))


@bp.post("/conversations/<int:conversation_id>/close")
@login_required
def close(conversation_id: int) -> Response | tuple[str, int]:
    convo = _held(conversation_id, coordinators=True)
    if convo.status == "closed":
        return redirect(url_for(".index"))
    outcome = request.form.get("outcome", "")
    if not outcomes.is_outcome(outcome):
        return _thread_page(
            convo, error="Choose how the conversation ended to close it.", close_error=True
        ), 400
    note = request.form.get("note", "").strip()[:MAX_NOTE] or None
    me = current_user()
    texts = assignment.close(
        web.db(), convo, web.now(), f"closed by {me.name}", me.id, note, outcome=outcome
    )
    web.db().commit()
    queues.texts_made(web.redis(), [t.id for t in texts])
    queues.route_queue(web.redis())
    flash("Conversation closed.")
    return redirect(url_for(".index"))


@bp.post("/conversations/<int:conversation_id>/notes")
@login_required
def add_note(conversation_id: int) -> Response | tuple[str, int]:
    """A staff-only note in the thread (never texted); from the shift heads-up, a handoff
    note for whoever holds the conversation next."""
    convo = _held(conversation_id, coordinators=True)
    note = request.form.get("note", "").strip()
    if not note or len(note) > MAX_NOTE:
        return _thread_page(convo, error=f"A note is 1 to {MAX_NOTE} characters."), 400
    assignment.add_note(web.db(), convo, current_user(), note, web.now())
    web.db().commit()
    if request.form.get("back") == "inbox":
        flash(f"Handoff note left on {alias_filter(convo)}.")
        return redirect(url_for(".index"))
    return redirect(url_for(".conversation", conversation_id=convo.id))


@bp.post("/conversations/<int:conversation_id>/escalate")
@login_required
def escalate(conversation_id: int) -> Response | tuple[str, int]:
    """Urgent and crisis-only; handed on unless the holder is crisis-trained."""
    convo = _held(conversation_id, coordinators=True)
    if convo.status == "closed":
        return _thread_page(convo, error="A closed conversation cannot be escalated."), 409
    note = request.form.get("note", "").strip()[:MAX_NOTE] or None
    me = current_user()
    try:
        texts = handoffs.escalate(web.db(), convo, me, note, web.now())
    except handoffs.AlreadyEscalated:
        return _thread_page(
            convo, error="This conversation is already urgent and crisis-only."
        ), 409
    web.db().commit()
    queues.texts_made(web.redis(), [t.id for t in texts])
    if inbox.visible_to(web.db(), me, convo.id) is None:
        flash("Escalated to crisis: handed on to a crisis-trained supporter.")
        return redirect(url_for(".index"))
    flash("Escalated to crisis.")
    return redirect(url_for(".conversation", conversation_id=convo.id))


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


@bp.route("/calendar-feed", methods=["GET", "POST"])
@login_required
def calendar_feed_link() -> Response:
    """My private calendar feed: whether I have one, and (POST) a new address, shown once."""
    me = current_user()
    token = None
    if request.method == "POST":
        token = calendar_feed.reset_token(web.db(), me, me, web.now())
        web.db().commit()
    return feeds.link_page(me, token, url_for(".index"))


@bp.post("/help")
@login_required
def help_another() -> Response:
    """The pull model: give me the most urgent waiting texter I may take, if any."""
    me = current_user()
    if not pulling.has_room(web.db(), me):
        flash("You have no room for another conversation (or are not available).")
        return redirect(url_for(".index"))
    pulled = pulling.pull(web.db(), me, web.now())
    if pulled.conversation is None:
        web.db().rollback()
        flash("Nobody is waiting that you can take right now.")
        return redirect(url_for(".index"))
    web.db().commit()
    queues.texts_made(web.redis(), [t.id for t in pulled.texts])
    return redirect(url_for(".conversation", conversation_id=pulled.conversation.id))


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
    queues.texts_made(web.redis(), [t.id for t in texts])
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


@bp.post("/conversations/<int:conversation_id>/transfer")
@login_required
def transfer(conversation_id: int) -> Response | tuple[str, int]:
    """To a named colleague at once, or to a skill pool through the queue, with a note."""
    convo = _visible(conversation_id)
    me = current_user()
    if convo.status != "active" or (me.role != "coordinator" and convo.supporter_id != me.id):
        return _thread_page(convo, error="Only an active conversation you hold can be moved."), 409
    note = request.form.get("note", "").strip()[:MAX_NOTE] or None
    person, skill = _transfer_target(request.form.get("target", ""))
    if person is not None and person.id == convo.supporter_id:
        return _thread_page(convo, error="The conversation is already with them."), 409
    texts = handoffs.transfer(web.db(), convo, web.now(), me, note, person, skill)
    web.db().commit()
    queues.texts_made(web.redis(), [t.id for t in texts])
    flash(f"Conversation transferred to {person.name if person else 'the queue'}.")
    if inbox.visible_to(web.db(), me, convo.id) is None:
        return redirect(url_for(".index"))
    return redirect(url_for(".conversation", conversation_id=convo.id))


def _transfer_target(target: str) -> tuple[User | None, str | None]:
    """A colleague ("person:12") or a team ("pool:crisis"; "pool:" is anyone); else a 400."""
    kind, _, value = target.partition(":")
    if kind == "pool" and len(value) <= 40:
        return None, value.strip().lower() or None
    if kind == "person" and value.isdigit():
        person = web.db().get(User, int(value))
        if person is not None and person.is_active:
            return person, None
    abort(Response("Choose a colleague or a team to transfer to.\n", 400, mimetype="text/plain"))


@bp.get("/events")
def events() -> Response:
    """The signed-in supporter's live notices, as Server-Sent Events (helpline.live.feed)."""
    if g.user is None:
        return Response("sign in first\n", 401, mimetype="text/plain")
    return event_stream(current_user().id)


def event_stream(listener: notices.Listener) -> Response:
    """The Server-Sent Events response for a supporter's stream or the board's, resuming
    after Last-Event-ID (or ?since=)."""
    last_id = feed.parse_last_id(request.headers.get("Last-Event-ID") or request.args.get("since"))
    timing = current_app.config.get("LIVE_TIMING", feed.Timing())
    body = feed.stream(web.redis(), doorbell(), listener, last_id, timing)
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy passes each notice on at once
    return response


def doorbell() -> feed.Doorbell:
    """This process's one Redis subscription, made on the first stream."""
    with _doorbell_lock:
        bell = current_app.extensions.get("helpline.live")
        if bell is None:
            settings = web.settings()
            # A quarter of the threads stay free for ordinary requests (docs/decisions.md).
            bell = feed.Doorbell(settings.redis_url, max(1, settings.web_threads * 3 // 4))
            current_app.extensions["helpline.live"] = bell
        return bell
