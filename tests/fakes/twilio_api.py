"""A small fake of Twilio's Messages REST API, served over real HTTP on 127.0.0.1.

The real `twilio` client talks to it through TWILIO_API_BASE_URL. Tests read what it was sent
and can script failures (429, 500, a refusal with an error code, an answer that comes too late),
one by one or for a stretch of time, and hold inbound texts whose webhook never reached the
service (for reconciliation). The Messages list pages and filters as Twilio documents it:
newest first, `PageSize` (50 by default, at most 1,000) with `next_page_uri`, and `DateSent>`
compared by date only.
"""

from __future__ import annotations

import io
import itertools
import json
import secrets
import sys
import threading
import time
from base64 import b64decode
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlencode

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
    # Messages of the account's past (other conversations): only ever seen in the list.
    history: list[dict[str, str]] = field(default_factory=list)
    failures: deque[Failure] = field(default_factory=deque)
    # Every create takes this long to answer; the message exists from the start of the wait.
    latency_s: float = 0.0
    outage_until: float = 0.0
    in_flight: int = 0  # creates taken (the message exists) whose answer is not yet given
    in_flight_ports: set[int] = field(default_factory=set)  # the clients' ports, of those
    outage: tuple[Failure, ...] = ()
    _outage_turn: itertools.count[int] = field(default_factory=itertools.count)
    _answering: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._answering.set()

    refused_numbers: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.sent.clear()
            self.inbound.clear()
            self.history.clear()
            self.failures.clear()
            self.latency_s = 0.0
            self._answering.set()
            self.outage_until = 0.0
            self.outage = ()
            self.refused_numbers.clear()
            self.requests = 0

    def fail_next(self, *failures: Failure) -> None:
        with self._lock:
            self.failures.extend(failures)

    def fail_for(self, seconds: float, *failures: Failure) -> None:
        """For `seconds` from now, every create answers with `failures`, in turn, round and
        round (after any scripted with fail_next)."""
        with self._lock:
            self.outage = failures
            self.outage_until = time.monotonic() + seconds

    def stall_creates(self) -> None:
        """From now on a create makes its message, then keeps the client waiting for the answer
        until answer_creates(): a worker killed meanwhile never learns the text went out."""
        self._answering.clear()

    def answer_creates(self) -> None:
        self._answering.set()

    def to(self, number: str) -> list[dict[str, str]]:
        return [m for m in self.sent if m["To"] == number]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.sent) >= count:
                return list(self.sent)
            time.sleep(0.02)
        raise AssertionError(f"fake Twilio got {len(self.sent)} texts, expected {count}")

    def hold_inbound(self, from_: str, to: str, body: str, at: datetime | None = None) -> str:
        """A text Twilio received (now, or `at`) but whose webhook never reached the service."""
        sid = "SM" + secrets.token_hex(16)
        with self._lock:
            self.inbound.append(_record(sid, to, from_, body, "inbound", at))
        return sid

    def add_history(self, count: int, from_: str, to: str, at: datetime | None = None) -> None:
        """`count` texts the account sent before (now, or `at`): they fill the Messages list."""
        records = [
            _record("SM" + secrets.token_hex(16), to, from_, "earlier", "outbound-api", at)
            for _ in range(count)
        ]
        with self._lock:
            self.history.extend(records)

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
            if failure is None and self.outage and time.monotonic() < self.outage_until:
                failure = self.outage[next(self._outage_turn) % len(self.outage)]
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
        port = int(request.environ.get("REMOTE_PORT") or 0)
        with self._lock:
            self.in_flight += 1
            self.in_flight_ports.add(port)
        time.sleep(self.latency_s + (failure.delay_s if failure else 0.0))  # created; answer late
        self._answering.wait(timeout=60)
        with self._lock:
            self.in_flight -= 1
            self.in_flight_ports.discard(port)
        return Response(
            json.dumps(_resource(record, self.account_sid)), 201, mimetype="application/json"
        )

    def _list(self, request: Request) -> Response:
        """The Messages list: filtered by To, From and DateSent> (a date: Twilio compares
        dates, not times), newest first, one page of PageSize at a time."""
        after = request.args.get("DateSent>")
        with self._lock:
            everything = list(self.history) + list(self.sent) + list(self.inbound)
        found = [
            m
            for m in everything
            if request.args.get("To") in (None, m["To"])
            and request.args.get("From") in (None, m["From"])
            and (after is None or _sent_at(m).date() >= _iso(after).date())
        ]
        found = [m for _, m in sorted(enumerate(found), key=lambda im: (_sent_at(im[1]), im[0]))]
        found.reverse()
        size = min(int(request.args.get("PageSize", 50)), 1000)
        number = int(request.args.get("Page", 0))
        page = found[number * size : (number + 1) * size]
        next_uri = None
        if (number + 1) * size < len(found):
            query = {k: v for k, v in request.args.items() if k not in ("Page", "PageToken")}
            query.update(Page=str(number + 1), PageToken=f"PA{number + 1}")
            next_uri = request.path + "?" + urlencode(query)
        body = {
            "messages": [_resource(m, self.account_sid) for m in page],
            "next_page_uri": next_uri,
            "page": number,
            "page_size": size,
            "start": number * size,
            "end": number * size + max(len(page) - 1, 0),
            "uri": request.full_path,
            "first_page_uri": request.path,
            "previous_page_uri": None,
        }
        return Response(json.dumps(body), 200, mimetype="application/json")

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = b64decode(header[6:]).decode().partition(":")
        return user == self.account_sid and password == self.auth_token


def _record(
    sid: str, to: str, from_: str, body: str, direction: str, at: datetime | None = None
) -> dict[str, str]:
    return {
        "sid": sid,
        "To": to,
        "From": from_,
        "Body": body,
        "Direction": direction,
        "DateSent": format_datetime(at or datetime.now(UTC), usegmt=True),
    }


def _sent_at(record: dict[str, str]) -> datetime:
    return parsedate_to_datetime(record["DateSent"])


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


class _KeepAlive(BaseHTTPRequestHandler):
    """HTTP/1.1 with connections kept from one request to the next, as Twilio's API keeps
    them (werkzeug's development server closes each one). Its access log is not ours to keep
    (Twilio's URLs name texters)."""

    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle connection is closed after a minute
    disable_nagle_algorithm = True  # headers and body go as two writes: not 40 ms apart
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        path, _, query = self.path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "PATH_INFO": unquote(path),
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(length),
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self.server.server_port),
            "SERVER_PROTOCOL": self.protocol_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(self.rfile.read(length)),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        started: list[tuple[str, list[tuple[str, str]]]] = []
        body = b"".join(self.server.app(environ, lambda *answer: started.append(answer[:2])))
        status, headers = started[0]
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: FakeTwilio) -> None:
        super().__init__(("127.0.0.1", 0), _KeepAlive)
        self.app = app

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up waiting (the tests' late answers) closed its connection.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeTwilioServer:
    """Serves a FakeTwilio on 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        self.fake = FakeTwilio()
        self._server = _Server(self.fake)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeTwilioServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
