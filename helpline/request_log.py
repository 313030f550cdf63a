"""Every request has an id: the caller's `X-Request-ID` when it is a sane token, else a new one.
It is on every log line the request causes, on the jobs it enqueues, and echoed in the answer;
each request ends with one access line (never a query string: only ids travel in paths)."""

from __future__ import annotations

import logging
import random
import re
import time

from flask import Flask, Response, g, request

from helpline import logs

HEADER = "X-Request-ID"
# When a middleware in front of Flask began the request (helpline.webhooks.InboundTexts): its
# time.perf_counter(), in the environ.
STARTED = "helpline.request_started"
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/=-]{0,127}")
access_log = logging.getLogger("helpline.access")


def init_app(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_end)
    app.teardown_request(_forget)


def request_id() -> str:
    return request_id_from(request.headers.get(HEADER, ""))


def request_id_from(given: str) -> str:
    """The caller's id when it is a sane token, else a new one: 128 random bits in hex, from
    Python's generator (no system call; an id is not a secret, and each forked process
    reseeds it), as a uuid4's hex would look."""
    return given if _SANE.fullmatch(given) else f"{random.getrandbits(128):032x}"


def _begin() -> None:
    g.request_id = request_id()
    g.request_started = request.environ.get(STARTED) or time.perf_counter()
    logs.bind(role="web", request_id=g.request_id)


def _end(response: Response) -> Response:
    if "request_id" not in g:  # a request that failed before its first hook ran
        _begin()
    response.headers[HEADER] = g.request_id
    log_access(
        request.method, request.path, response.status_code, g.request_started, request.remote_addr
    )
    return response


def log_access(
    method: str, path: str, status: int, started: float, remote_addr: str | None
) -> None:
    """The request's access line (in the request's log context: its id is on it)."""
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    access_log.info(
        "%s %s %s %.1fms",
        method,
        path,
        status,
        elapsed_ms,
        extra={
            "fields": {
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": elapsed_ms,
                "remote_addr": remote_addr,
            }
        },
    )


def _forget(_exc: BaseException | None = None) -> None:
    logs.clear()
