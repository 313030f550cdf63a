"""Twilio's REST API through the `twilio` library, pointed at TWILIO_API_BASE_URL."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from helpline.config import TWILIO_API, Settings
from helpline.services.outbound import OutboundText

log = logging.getLogger(__name__)


class TransientSendError(Exception):
    """Twilio or the network failed for a passing reason: try again later."""


@dataclass(frozen=True)
class Sent:
    sid: str
    status: str


@dataclass(frozen=True)
class Refused:
    error_code: int | None
    reason: str


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
    http = BaseUrlHttpClient(settings.twilio_api_base_url, timeout=15)
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
    except OSError as exc:  # connection refused, reset, timeout (requests' errors are OSErrors)
        raise TransientSendError(f"network error: {exc.__class__.__name__}") from exc
    return Sent(sid=str(message.sid), status=str(message.status or "queued"))
