"""Twilio's webhooks: inbound messages and status callbacks, signature-checked."""

from __future__ import annotations

import base64
import hmac
import io
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from sqlalchemy.exc import OperationalError
from twilio.request_validator import RequestValidator

from helpline import logs, metrics, request_log, security, telemetry, throttle, web
from helpline.config import Settings
from helpline.db import retrying_once
from helpline.group_commit import GroupCommit
from helpline.models import utcnow
from helpline.services import intake, outbound
from workers import queues

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

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
    form = _form(request.get_data())
    if form is None:
        abort(Response("form is not valid UTF-8\n", 400))
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
    if not _ours(settings, form):
        log.warning("webhook %s refused: AccountSid is not ours", request.path)
        abort(Response("unknown AccountSid\n", 403))
    return form


def _form(body: bytes) -> dict[str, str] | None:
    """The form's fields, or None when it is not UTF-8."""
    try:
        text = body.decode("ascii")  # percent-encoded: anything else is not a form
        return dict(parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict"))
    except UnicodeDecodeError:
        return None


def _ours(settings: Settings, form: dict[str, str]) -> bool:
    """Not from another Twilio account (when we know ours and the form names one)."""
    account = form.get("AccountSid")
    return not (settings.twilio_account_sid and account and account != settings.twilio_account_sid)


def _signed(auth_token: str, url: str, form: dict[str, str], signature: str) -> bool:
    """Whether Twilio signed this form for this URL. The URL as it is configured comes first
    (one HMAC); the library's check, which also tries the URL with its port added and taken
    away (Twilio's signing differs there), only when that fails: it costs a webhook three."""
    expected = signature_of(auth_token, url, form)
    return hmac.compare_digest(expected.encode(), signature.encode()) or RequestValidator(
        auth_token
    ).validate(url, form, signature)


def signature_of(auth_token: str, url: str, form: dict[str, str]) -> str:
    """Twilio's signature of a form posted to `url`: the base64 HMAC-SHA1, keyed with the
    auth token, of the URL followed by each field's name and value in the names' order (the
    library's `compute_signature` does the same, at four times the cost for a plain dict:
    it asks each field for a list of values by catching two exceptions)."""
    payload = url + "".join([name + form[name] for name in sorted(form)])
    return base64.b64encode(hmac.digest(auth_token.encode(), payload.encode(), "sha1")).decode()


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
    failed = request.environ.pop(STORE_FAILED, None)  # InboundTexts tried: its failure is ours
    try:
        if failed is not None:
            raise failed
        _intake(current_app)(_Arrival(inbound, web.now(), metrics.webhook_started()))
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


def _intake(app: Flask) -> GroupCommit[_Arrival, int]:
    """This app's intake: the group commit of its inbound texts."""
    found = app.extensions.get("helpline.intake")
    if found is None:
        resources = cast(web.Resources, app.extensions["helpline"])
        found = app.extensions.setdefault(
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
    ready = intake.ready_to_store(received, resources.autocommit.dialect)  # before the turn

    def store() -> list[int]:
        with web.own_transaction(resources) as connection:
            return intake.store_all(connection, received, ready)

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


def init_app(app: Flask) -> None:
    """Texts Twilio delivers take the short way in (InboundTexts); the blueprint has the rest."""
    app.register_blueprint(bp)
    app.wsgi_app = InboundTexts(app)  # type: ignore[method-assign]


STORE_FAILED = "helpline.webhooks.store_failed"


class InboundTexts:
    """WSGI middleware in front of Flask for the inbound webhook's usual request: a text,
    signed by Twilio, from our account. It stores the text as the view does (the same
    intake), answers with the empty TwiML, the security headers and the request id, and writes
    the access line; the request costs the web process a third less CPU than through Flask's
    hooks and contexts (docs/decisions.md, "Texts Twilio delivers are answered in front of
    Flask").

    Anything else goes on to Flask, its body put back: a request the view would refuse
    (unsigned, malformed, too large, another account's) or that is not the usual shape (a
    cookie, a chunked body), and one whose store failed, with the failure in the environ
    (STORE_FAILED). The view then answers it with every hook of the app: refusals throttled
    and audited as before, a database that is down a 503, the failure not tried again (a
    database that does not answer would make Twilio wait twice as long).
    """

    PATH = "/twilio/messages"
    MIMETYPE = "application/x-www-form-urlencoded"

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.flask = app.wsgi_app
        self.settings = cast(web.Resources, app.extensions["helpline"]).settings
        self.url = self.settings.public_url + self.PATH
        self.most = int(app.config["MAX_CONTENT_LENGTH"])
        self.body = EMPTY_TWIML.encode()
        self.headers = [
            ("Content-Type", "text/xml; charset=utf-8"),
            ("Content-Length", str(len(self.body))),
            *security.headers_for(self.settings).items(),
        ]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = self._usual_length(environ)
        if length is None:
            return self.flask(environ, start_response)
        started = time.perf_counter()
        body = environ["wsgi.input"].read(length)
        request_id = request_log.request_id_from(environ.get("HTTP_X_REQUEST_ID", ""))
        with logs.bound(role="web", request_id=request_id):
            stored = self._store(environ, body, started)
            if stored:
                start_response("200 OK", [*self.headers, (request_log.HEADER, request_id)])
                remote = environ.get("REMOTE_ADDR")
                request_log.log_access("POST", self.PATH, 200, started, remote)
        if stored:
            return [self.body]
        # Flask takes the request as it came, under the same id and the same clock.
        environ["wsgi.input"] = io.BytesIO(body)
        environ["HTTP_X_REQUEST_ID"] = request_id
        environ[request_log.STARTED] = started
        return self.flask(environ, start_response)

    def _usual_length(self, environ: dict[str, Any]) -> int | None:
        """The body's length, when the request has the usual shape of Twilio's; else None."""
        length = environ.get("CONTENT_LENGTH", "")
        usual = (
            environ.get("PATH_INFO") == self.PATH
            and environ.get("REQUEST_METHOD") == "POST"
            and environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() == self.MIMETYPE
            and "HTTP_COOKIE" not in environ  # a signed-in user's request: the view's case
            and "HTTP_TRANSFER_ENCODING" not in environ
            and length.isascii()
            and length.isdigit()
            and len(length) <= 12
            and int(length) <= self.most
        )
        return int(length) if usual else None

    def _store(self, environ: dict[str, Any], body: bytes, started: float) -> bool:
        """Whether the text was stored and handed on; False for whatever the view must see."""
        form = _form(body)
        if form is None or not _ours(self.settings, form):
            return False
        query = environ.get("QUERY_STRING", "")
        url = f"{self.url}?{query}" if query else self.url
        signature = environ.get("HTTP_X_TWILIO_SIGNATURE", "")
        if not signature or not _signed(self.settings.webhook_auth_token, url, form, signature):
            return False
        try:
            inbound = intake.parse(form)
        except intake.InvalidInbound:
            return False
        try:
            _intake(self.app)(_Arrival(inbound, utcnow(), started))
        except Exception as exc:  # the view answers for it, as for a failure of its own
            environ[STORE_FAILED] = exc
            return False
        return True


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
