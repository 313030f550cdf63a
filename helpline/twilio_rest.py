"""Twilio's REST API through the `twilio` library, pointed at TWILIO_API_BASE_URL."""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

import certifi
import urllib3
from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError

from helpline.config import TWILIO_API, Settings
from helpline.services.intake import Inbound
from helpline.services.outbound import OutboundText, Refused, Sent

log = logging.getLogger(__name__)
# The twilio library logs each request's query string at INFO, and urllib3 each URL at DEBUG: a
# message list's query names the texter. Neither passes anything below a warning.
_http_log = logging.getLogger(__name__ + ".http")
_http_log.setLevel(logging.WARNING)
logging.getLogger("urllib3.connectionpool").setLevel(logging.WARNING)


class TransientSendError(Exception):
    """Twilio or the network failed for a passing reason before the text was taken: try again."""


class SendOutcomeUnknown(Exception):
    """The request reached Twilio but no answer came back: it may have been sent. Resending
    now could text the texter twice, so the send is reconciled first."""


class ApiHttpClient(HttpClient):
    """Twilio's documented custom-HTTP-client hook: the library builds each request (its
    path, parameters, headers and credentials) and this sends it with urllib3, to the
    configured API base URL.

    The library's own client goes through `requests`, whose work on every request (reading
    the environment's proxy settings, cookies, hooks, its adapters) cost a worker as much as
    the rest of a send. What `requests` would take from the environment is read once here:
    HTTPS_PROXY and NO_PROXY, and REQUESTS_CA_BUNDLE (else certifi's bundle, as `requests`).
    No retries and no redirects: a retry is the job's decision, which knows whether the
    request reached Twilio."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(_http_log, False, timeout)
        self.base_url = base_url.rstrip("/")
        self.pool = _pool_for(self.base_url)

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        if params:
            url += "?" + urlencode(params, doseq=True)
        sent_headers = dict(headers or {})
        body = None
        if data and sent_headers.get("Content-Type", "").endswith("json"):  # a few of its APIs
            body = json.dumps(data)
        elif data:
            body = urlencode(data, doseq=True)
            sent_headers["Content-Type"] = "application/x-www-form-urlencoded"
        if auth:
            sent_headers.update(urllib3.make_headers(basic_auth=f"{auth[0]}:{auth[1]}"))
        seconds = timeout or self.timeout
        answer = self.pool.request(
            method.upper(),
            url,
            body=body,
            headers=sent_headers,
            timeout=urllib3.Timeout(connect=seconds, read=seconds),
            retries=False,
            redirect=allow_redirects,
        )
        return Response(answer.status, answer.data.decode("utf-8"), answer.headers)


def _pool_for(base_url: str) -> urllib3.PoolManager:
    """Connections to the API, through the proxy the environment names for it, if any."""
    ca_certs = os.environ.get("REQUESTS_CA_BUNDLE") or certifi.where()
    parts = urlsplit(base_url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        return urllib3.ProxyManager(proxy, maxsize=4, ca_certs=ca_certs)
    return urllib3.PoolManager(maxsize=4, ca_certs=ca_certs)


def make_client(settings: Settings) -> Client | None:
    """A client for real sending, or None in dev mode (no credentials)."""
    if not settings.sends_texts:
        return None
    http = ApiHttpClient(settings.twilio_api_base_url, settings.twilio_timeout_s)
    return Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http)


def send(client: Client | None, settings: Settings, text: OutboundText) -> Sent | Refused:
    """Create the message at Twilio; raise TransientSendError when it is worth retrying."""
    if client is None:
        log.warning("dev mode: no Twilio credentials, text %s recorded, not sent", text.message_id)
        return Sent(sid=f"DEV{text.message_id:030d}", status="recorded")
    try:
        message = client.messages.create(
            to=text.to,
            from_=text.from_,
            body=text.body,
            status_callback=settings.public_url + "/twilio/status",
        )
    except TwilioRestException as exc:
        if exc.status == 429 or exc.status >= 500:
            raise TransientSendError(f"Twilio answered {exc.status} ({exc.code})") from exc
        return Refused(error_code=exc.code, reason=str(exc.msg))
    except HTTPError as exc:
        if never_reached(exc):
            raise TransientSendError(f"network error: {exc.__class__.__name__}") from exc
        raise SendOutcomeUnknown(f"no answer from Twilio: {exc.__class__.__name__}") from exc
    return Sent(sid=str(message.sid), status=str(message.status or "queued"))


def never_reached(exc: HTTPError) -> bool:
    """The request certainly never reached Twilio (refused, or no connection in time)."""
    return isinstance(exc, (NewConnectionError, ConnectTimeoutError))


def find_sent(client: Client, text: OutboundText, since: datetime) -> list[Sent]:
    """Messages Twilio created like `text` (same To, From and Body, sent since), newest first.

    More than one when the texter was sent the same words before ("ok"): the caller takes the
    one no other text has recorded.
    """
    return [
        Sent(sid=str(found.sid), status=str(found.status or "queued"))
        for found in client.messages.list(
            to=text.to, from_=text.from_, date_sent_after=since - timedelta(minutes=1), limit=100
        )
        if found.body == text.body and found.direction != "inbound"
    ]


def received_since(client: Client, since: datetime) -> list[Inbound]:
    """Texts Twilio received since `since` (whether or not their webhook reached us).

    Twilio filters DateSent by date only and lists newest first, a page at a time, both
    directions: read pages until the messages are older than `since`, however busy the hour.
    """
    found = []
    for message in client.messages.stream(date_sent_after=since, page_size=1000):
        sent_at = message.date_sent or message.date_created
        if sent_at is not None and sent_at < since:
            break
        if message.direction == "inbound":
            found.append(
                Inbound(
                    str(message.sid),
                    str(message.from_),
                    str(message.to),
                    str(message.body or ""),
                    int(message.num_media or 0),
                )
            )
    return found
