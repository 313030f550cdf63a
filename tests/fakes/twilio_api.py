"""A small fake of Twilio's Messages REST API, served over real HTTP on 127.0.0.1.

The real `twilio` client talks to it through TWILIO_API_BASE_URL. Tests read what it was sent
and can script failures (429, 500, a refusal with an error code, an answer that comes too late),
and hold inbound texts whose webhook never reached the service (for reconciliation).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from base64 import b64decode
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-twilio-auth-token"


@dataclass(frozen=True)
class Failure:
    """The next create answers `status` after `delay_s`; a 2xx status means the message IS
    created and only the answer is late (a client timeout then leaves the outcome unknown)."""

    status: int
    code: int | None = None
    delay_s: float = 0.0


@dataclass
class FakeTwilio:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    sent: list[dict[str, str]] = field(default_factory=list)
    inbound: list[dict[str, str]] = field(default_factory=list)
    failures: deque[Failure] = field(default_factory=deque)
    refused_numbers: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.sent.clear()
            self.inbound.clear()
            self.failures.clear()
            self.refused_numbers.clear()
            self.requests = 0

    def fail_next(self, *failures: Failure) -> None:
        with self._lock:
            self.failures.extend(failures)

    def to(self, number: str) -> list[dict[str, str]]:
        return [m for m in self.sent if m["To"] == number]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.sent) >= count:
                return list(self.sent)
            time.sleep(0.02)
        raise AssertionError(f"fake Twilio got {len(self.sent)} texts, expected {count}")

    def hold_inbound(self, from_: str, to: str, body: str) -> str:
        """A text Twilio received but whose webhook never reached the service."""
        sid = "SM" + secrets.token_hex(16)
        with self._lock:
            self.inbound.append(_record(sid, to, from_, body, "inbound"))
        return sid

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.requests += 1
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if request.path != path:
            return _error(404, 20404, "The requested resource was not found")
        if not self._authorized(request):
            return _error(401, 20003, "Authenticate")
        if request.method == "GET":
            return self._list(request)
        if request.method != "POST":
            return _error(405, 20004, "Method not allowed")
        return self._create(request)

    def _create(self, request: Request) -> Response:
        with self._lock:
            failure = self.failures.popleft() if self.failures else None
        if failure is not None and failure.status >= 300:
            time.sleep(failure.delay_s)
            return _error(failure.status, failure.code, "scripted failure")
        form = request.form.to_dict()
        for key in ("To", "From", "Body"):
            if not form.get(key):
                return _error(400, 21604, f"A '{key}' parameter is required.")
        refused = self.refused_numbers.get(form["To"])
        if refused is not None:
            return _error(400, refused, "Attempt to send to unsubscribed recipient")
        record = {
            **form,
            **_record(
                "SM" + secrets.token_hex(16), form["To"], form["From"], form["Body"], "outbound-api"
            ),
            "ReceivedAt": f"{time.time():.6f}",  # when the fake took it, for pacing tests
        }
        with self._lock:
            self.sent.append(record)
        if failure is not None:
            time.sleep(failure.delay_s)  # created, but the answer comes late
        return Response(
            json.dumps(_resource(record, self.account_sid)), 201, mimetype="application/json"
        )

    def _list(self, request: Request) -> Response:
        """The Messages list, filtered by To, From and DateSent> as Twilio filters it."""
        after = request.args.get("DateSent>")
        with self._lock:
            everything = list(self.sent) + list(self.inbound)
        found = [
            _resource(m, self.account_sid)
            for m in everything
            if request.args.get("To") in (None, m["To"])
            and request.args.get("From") in (None, m["From"])
            and (after is None or parsedate_to_datetime(m["DateSent"]) >= _iso(after))
        ]
        page = {
            "messages": found,
            "next_page_uri": None,
            "page": 0,
            "page_size": len(found),
            "start": 0,
            "end": max(len(found) - 1, 0),
            "uri": request.path,
            "first_page_uri": request.path,
            "previous_page_uri": None,
        }
        return Response(json.dumps(page), 200, mimetype="application/json")

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = b64decode(header[6:]).decode().partition(":")
        return user == self.account_sid and password == self.auth_token


def _record(sid: str, to: str, from_: str, body: str, direction: str) -> dict[str, str]:
    return {
        "sid": sid,
        "To": to,
        "From": from_,
        "Body": body,
        "Direction": direction,
        "DateSent": format_datetime(datetime.now(UTC), usegmt=True),
    }


def _resource(record: dict[str, str], account_sid: str) -> dict[str, object]:
    inbound = record["Direction"] == "inbound"
    return {
        "sid": record["sid"],
        "account_sid": account_sid,
        "to": record["To"],
        "from": record["From"],
        "body": record["Body"],
        "status": "received" if inbound else "queued",
        "direction": record["Direction"],
        "date_sent": record["DateSent"],
        "error_code": None,
        "num_segments": "1",
        "num_media": "0",
    }


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _error(status: int, code: int | None, message: str) -> Response:
    body = {"code": code, "message": message, "status": status, "more_info": ""}
    return Response(json.dumps(body), status, mimetype="application/json")


class _Quiet(WSGIRequestHandler):
    """Twilio's own access log is not ours to keep (and its URLs name texters)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class FakeTwilioServer:
    """Serves a FakeTwilio on 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        self.fake = FakeTwilio()
        self._server = make_server("127.0.0.1", 0, self.fake, threaded=True, request_handler=_Quiet)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeTwilioServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
