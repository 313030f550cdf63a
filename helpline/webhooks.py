"""Twilio's webhooks: inbound messages and status callbacks, signature-checked."""

from __future__ import annotations

import hmac
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from urllib.parse import parse_qsl

from flask import Blueprint, Response, abort, current_app, g, request
from sqlalchemy.exc import OperationalError
from twilio.request_validator import RequestValidator

from helpline import metrics, telemetry, throttle, web
from helpline.db import get_engine, retrying_once, sqlite_writer_turn
from helpline.group_commit import GroupCommit
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
    if not signature or not _signed(settings.webhook_auth_token, url, form, signature):
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


def _signed(auth_token: str, url: str, form: dict[str, str], signature: str) -> bool:
    """Whether Twilio signed this form for this URL. The URL as it is configured comes first
    (one HMAC); the library's check, which also tries the URL with its port added and taken
    away (Twilio's signing differs there), only when that fails: it costs a webhook three."""
    validator = RequestValidator(auth_token)
    expected = validator.compute_signature(url, form)
    return hmac.compare_digest(expected.encode(), signature.encode()) or validator.validate(
        url, form, signature
    )


@bp.post("/messages")
def inbound_message() -> Response:
    form = signed_form()
    try:
        inbound = intake.parse(form)
    except intake.InvalidInbound as exc:
        return Response(f"{exc}\n", 400, mimetype="text/plain")
    session = g.get("db")
    if session is not None and session.in_transaction():
        # A signed-in user's lookup began it: on SQLite it holds the write lock, which the
        # store below would wait for (the webhook reads nothing through it).
        session.commit()
    try:
        _intake()(_Arrival(inbound, web.now(), metrics.webhook_started()))
    except OperationalError:
        log.exception("database unavailable; asking Twilio to retry")
        return Response("database unavailable\n", 503, mimetype="text/plain")
    metrics.webhook_recorded()  # with its text's push
    return Response(EMPTY_TWIML, 200, mimetype="text/xml")


# Concurrent inbound webhooks in a process store their texts together: one transaction, one
# round trip to the database and one to Redis for the batch, each webhook answered once its
# own text is committed and handed on (helpline.group_commit; docs/decisions.md, "Inbound
# webhooks store their texts together").
MAX_BATCH = 64


@dataclass(frozen=True)
class _Arrival:
    inbound: intake.Inbound
    received_at: datetime
    started: float  # the request's clock, for its webhook's time


def _intake() -> GroupCommit[_Arrival, int]:
    """This app's intake: the group commit of its inbound texts."""
    found = current_app.extensions.get("helpline.intake")
    if found is None:
        resources = web.resources()
        found = current_app.extensions.setdefault(
            "helpline.intake",
            GroupCommit(
                lambda arrivals: _store_and_hand_over(resources, arrivals),
                MAX_BATCH,
                # A database that is down fails every text; anything else may be one text's
                # (refused by a constraint parse missed): the others are stored on their own.
                each_alone=lambda error: not isinstance(error, OperationalError),
            ),
        )
    return cast(GroupCommit[_Arrival, int], found)


def _store_and_hand_over(resources: web.Resources, arrivals: list[_Arrival]) -> list[int]:
    """Store the texts durably (committed) before anything else, then hand them on."""
    received = [(arrival.inbound, arrival.received_at) for arrival in arrivals]

    def store() -> list[int]:
        if resources.autocommit is not None:  # PostgreSQL: one statement, its own transaction
            with resources.autocommit.connect() as connection:
                return intake.store_all(connection, received)
        url = resources.settings.database_url  # SQLite: the web processes take turns
        with sqlite_writer_turn(url), get_engine(url).begin() as connection:
            return intake.store_all(connection, received)

    message_ids = retrying_once(store)  # the store is idempotent: a MessageSid is stored once
    with_metrics = resources.redis.pipeline(transaction=False)
    now = time.perf_counter()
    elapsed = [now - arrival.started for arrival in arrivals]
    metrics.record_webhooks(
        with_metrics, metrics.WEBHOOKS[f"{bp.name}.inbound_message"], 200, elapsed
    )
    texter_keys = [arrival.inbound.texter_key for arrival in arrivals]
    stored = list(zip(message_ids, texter_keys, strict=True))
    queues.inbound_stored(resources.redis, stored, with_metrics)
    return message_ids


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
