"""Twilio's REST API through the `twilio` library, pointed at TWILIO_API_BASE_URL."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

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


class BaseUrlHttpClient(TwilioHttpClient):
    """Twilio's documented custom-HTTP-client hook, used to reach a configured API base URL."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


def make_client(settings: Settings) -> Client | None:
    """A client for real sending, or None in dev mode (no credentials)."""
    if not settings.sends_texts:
        return None
    http = BaseUrlHttpClient(
        settings.twilio_api_base_url, timeout=settings.twilio_timeout_s, logger=_http_log
    )
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
    except requests.RequestException as exc:
        if never_reached(exc):
            raise TransientSendError(f"network error: {exc.__class__.__name__}") from exc
        raise SendOutcomeUnknown(f"no answer from Twilio: {exc.__class__.__name__}") from exc
    return Sent(sid=str(message.sid), status=str(message.status or "queued"))


def never_reached(exc: requests.RequestException) -> bool:
    """The request certainly never reached Twilio (refused, or no connection in time)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(
        reason, (NewConnectionError, ConnectTimeoutError)
    )


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
