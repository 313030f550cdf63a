"""A small fake of Twilio's Messages REST API, served over real HTTP on 127.0.0.1.

The real `twilio` client talks to it through TWILIO_API_BASE_URL. Tests read what it was sent
and can script failures (429, 500, a refusal with an error code, a slow answer).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from base64 import b64decode
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-twilio-auth-token"


@dataclass(frozen=True)
class Failure:
    status: int
    code: int | None = None
    delay_s: float = 0.0


@dataclass
class FakeTwilio:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    sent: list[dict[str, str]] = field(default_factory=list)
    failures: deque[Failure] = field(default_factory=deque)
    refused_numbers: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.sent.clear()
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
        if request.method != "POST":
            return _error(405, 20004, "Method not allowed")
        with self._lock:
            failure = self.failures.popleft() if self.failures else None
        if failure is not None:
            time.sleep(failure.delay_s)
            if failure.status >= 300:
                return _error(failure.status, failure.code, "scripted failure")
        form = request.form.to_dict()
        for key in ("To", "From", "Body"):
            if not form.get(key):
                return _error(400, 21604, f"A '{key}' parameter is required.")
        refused = self.refused_numbers.get(form["To"])
        if refused is not None:
            return _error(400, refused, "Attempt to send to unsubscribed recipient")
        sid = "SM" + secrets.token_hex(16)
        with self._lock:
            self.sent.append({**form, "sid": sid})
        body = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": form["To"],
            "from": form["From"],
            "body": form["Body"],
            "status": "queued",
            "direction": "outbound-api",
            "error_code": None,
            "num_segments": "1",
        }
        return Response(json.dumps(body), 201, mimetype="application/json")

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = b64decode(header[6:]).decode().partition(":")
        return user == self.account_sid and password == self.auth_token


def _error(status: int, code: int | None, message: str) -> Response:
    body = {"code": code, "message": message, "status": status, "more_info": ""}
    return Response(json.dumps(body), status, mimetype="application/json")


class FakeTwilioServer:
    """Serves a FakeTwilio on 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        self.fake = FakeTwilio()
        self._server = make_server("127.0.0.1", 0, self.fake, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeTwilioServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
