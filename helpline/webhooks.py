"""Twilio's webhooks: inbound messages and status callbacks, signature-checked."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from urllib.parse import parse_qsl

from flask import Blueprint, Response, abort, request
from sqlalchemy.exc import OperationalError
from twilio.request_validator import RequestValidator

from helpline import metrics, telemetry, throttle, web
from helpline.db import retrying_once
from helpline.services import intake, outbound
from workers import queues

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/twilio")

# Forged webhooks from one address: this many in the window, then refused unread.
SIGNATURE_FAILURE_LIMIT = 30
SIGNATURE_FAILURE_WINDOW_S = 300
_ERROR_CODE = re.compile(r"[0-9]{1,9}")  # Twilio's error codes are five digits
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def signed_form() -> dict[str, str]:
    """The form as Twilio sent it, after checking its signature; 400 or 403 otherwise."""
    if request.mimetype != "application/x-www-form-urlencoded":
        abort(Response("expected application/x-www-form-urlencoded\n", 415))
    try:
        pairs = parse_qsl(
            request.get_data().decode("ascii"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
        )
    except UnicodeDecodeError:
        abort(Response("form is not valid UTF-8\n", 400))
    form = dict(pairs)
    settings = web.settings()
    url = settings.public_url + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("ascii", "replace")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not RequestValidator(settings.webhook_auth_token).validate(
        url, form, signature
    ):
        # Checking a signature costs less than asking Redis, so only a request that fails it
        # is counted against its address, and a signed one is never refused for another's
        # forgeries (Twilio's requests come from shared addresses).
        failures = throttle.key("webhook-signature", request.remote_addr or "unknown")
        if throttle.is_blocked(web.redis(), [(failures, SIGNATURE_FAILURE_LIMIT)]):
            abort(Response("too many invalid signatures; slow down\n", 429))
        log.warning("webhook %s refused: bad or missing signature", request.path)
        throttle.record_failure(web.redis(), [failures], SIGNATURE_FAILURE_WINDOW_S)
        abort(Response("invalid signature\n", 403))
    account = form.get("AccountSid")
    if settings.twilio_account_sid and account and account != settings.twilio_account_sid:
        log.warning("webhook %s refused: AccountSid is not ours", request.path)
        abort(Response("unknown AccountSid\n", 403))
    return form


@bp.post("/messages")
def inbound_message() -> Response:
    form = signed_form()
    try:
        inbound = intake.parse(form)
    except intake.InvalidInbound as exc:
        return Response(f"{exc}\n", 400, mimetype="text/plain")
    try:
        message_id = _store(inbound)
    except OperationalError:
        log.exception("database unavailable; asking Twilio to retry")
        return Response("database unavailable\n", 503, mimetype="text/plain")
    redis = web.redis()
    with_metrics = redis.pipeline(transaction=False)
    metrics.record_webhook(with_metrics, 200)
    queues.inbound_stored(redis, message_id, inbound.texter_key, with_metrics)
    return Response(EMPTY_TWIML, 200, mimetype="text/xml")


def _store(inbound: intake.Inbound) -> int:
    """Store the text durably (committed) before anything else."""
    engine = web.resources().autocommit
    if engine is not None:  # PostgreSQL: the one statement is its own transaction

        def store() -> int:
            with engine.connect() as connection:
                return intake.store(connection, inbound, web.now())

        return retrying_once(store)  # the store is idempotent: a MessageSid is stored once
    # SQLite: the request's session, which may hold the write lock already (a signed-in
    # user's lookup): a connection of its own would wait on it, and so would the turn below.
    session = web.db()
    turn = contextlib.nullcontext() if session.in_transaction() else _sqlite_stores
    with turn:
        message_id = intake.store(session, inbound, web.now())
        session.commit()
    return message_id


# SQLite lets one writer in at a time; its other writers wait in a loop of sleeps and retries
# (busy_timeout). A process's webhooks queue here for their turn instead.
_sqlite_stores = threading.Lock()


@bp.post("/status")
def message_status() -> Response:
    form = signed_form()
    sid = form.get("MessageSid", "")
    status = form.get("MessageStatus", "")
    if not intake.is_message_sid(sid) or status not in outbound.STATUS_RANK:
        return Response(
            "MessageSid and a known MessageStatus are required\n", 400, mimetype="text/plain"
        )
    error = form.get("ErrorCode", "")
    session = web.db()
    try:
        outbound.apply_status_callback(
            session, sid, status, int(error) if _ERROR_CODE.fullmatch(error) else None
        )
        session.commit()
    except OperationalError:
        return Response("database unavailable\n", 503, mimetype="text/plain")
    telemetry.count(web.redis(), telemetry.STATUS_CALLBACKS, status=status)
    return Response("", 204)
