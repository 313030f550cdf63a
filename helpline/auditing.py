"""Every request that touches a conversation, every refusal, and every change to how the
helpline works (settings, texts, programs, canned responses) goes into the audit log.

One `after_request` hook for the whole app, so a new route cannot forget it. A view whose
audit entry cannot be written is not shown: the answer becomes 503.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, request
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from helpline import web
from helpline.db import MAX_INTEGER
from helpline.services import audit

log = logging.getLogger(__name__)

# Listings that show many conversations at once (with numbers, for coordinators).
LISTINGS = {"api.list_conversations"}


def init_app(app: Flask) -> None:
    app.after_request(record_access)


def record_access(response: Response) -> Response:
    conversation_id = (request.view_args or {}).get("conversation_id")
    if conversation_id is not None and abs(conversation_id) > MAX_INTEGER:
        conversation_id = None  # no such conversation can exist; the path says what was tried
    access = audit.Access(
        actor_id=_actor_id(),
        method=request.method,
        path=request.path,
        status=response.status_code,
        remote_addr=request.remote_addr,
    )
    action = audit.action_for(access, conversation_id)
    if action is None and request.endpoint in LISTINGS and response.status_code == 200:
        action = audit.LISTED
    change = g.get("audit_change")
    if action is None and change is not None and response.status_code < 400:
        action = audit.CHANGED
    if action is None:
        return response
    # Views commit their own work; whatever the request's session still holds is reads begun
    # while rendering. Ending it now frees SQLite's write lock for the entry below.
    if (request_session := g.get("db")) is not None:
        request_session.rollback()
    try:
        with web.own_transaction(web.resources()) as connection:
            audit.write(
                connection,
                action,
                web.now(),
                conversation_id=conversation_id,
                access=access,
                detail=change if action == audit.CHANGED else None,
            )
    except SQLAlchemyError:
        log.exception("audit entry not written: %s %s", request.method, request.path)
        if action != audit.DENIED:
            return Response("this access could not be recorded; try again\n", 503)
    return response


def record_change(what: str, **detail: object) -> None:
    """Mark this request as a change to the helpline's configuration: the hook writes the
    entry once the answer is known to be a success."""
    g.audit_change = {"what": what, **detail}


def _actor_id() -> int | None:
    """The signed-in user's id, read without the database: the request's session may be
    unusable by now (a failed write rolled it back)."""
    actor = getattr(g, "user", None) or getattr(g, "api_user", None)
    if actor is None:
        return None
    identity = inspect(actor).identity
    return int(identity[0]) if identity else None
