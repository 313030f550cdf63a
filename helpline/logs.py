"""Log lines: one JSON object per line on stderr, each naming the process role and the request
or job it belongs to.

Texters' numbers and texts are never logged (log ids instead). As a last net, anything shaped
like a phone number that still reaches a line is masked. No Flask here: workers use it too.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from select import PIPE_BUF
from types import MappingProxyType
from typing import IO, Any

FORMATS = ("auto", "json", "text")
# What every line says about where it came from, bound for the length of a request or a job.
_EMPTY: Mapping[str, str] = MappingProxyType({})
_context: ContextVar[Mapping[str, str]] = ContextVar("helpline_log_context", default=_EMPTY)
_process = {"role": "-"}
# A "+" (or its URL encoding) and at least seven digits, maybe spaced or punctuated: E.164,
# WhatsApp ids, the ways people write numbers. ISO dates and offsets (+00:00) do not match.
_PHONE = re.compile(r"(?:\+|%2[Bb])\d(?:[\d().\s-]{5,}\d)")


def mask(text: str) -> str:
    """Replace anything shaped like a phone number with a placeholder."""
    return _PHONE.sub("+[number]", text)


def bind(**fields: str | None) -> None:
    """Add `fields` (request_id, job_id, role) to every line logged from here on in this context."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v}})


def clear() -> None:
    _context.set(_EMPTY)


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


def current(field: str) -> str | None:
    return _context.get().get(field)


def _origin(record: logging.LogRecord) -> dict[str, Any]:
    context = _context.get()
    origin: dict[str, Any] = {"role": context.get("role", _process["role"])}
    for field in ("request_id", "job_id"):
        if field in context:
            origin[field] = context[field]
    return origin


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, Mapping) else {}


_JSON = json.JSONEncoder(default=str, ensure_ascii=False)  # made once: json.dumps makes one a line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, role, request or job id, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            **_origin(record),
            "logger": record.name,
            "msg": mask(record.getMessage()),
            **_extra(record),
        }
        if record.exc_info:
            line["exc"] = mask(self.formatException(record.exc_info))
        return _JSON.encode(line)


class TextFormatter(logging.Formatter):
    """For people at a terminal (`make run`): time, level, role and id, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        origin = _origin(record)
        ident = origin.get("request_id") or origin.get("job_id")
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        where = f"{origin['role']}" + (f" [{ident}]" if ident else "")
        extra = " ".join(f"{k}={v}" for k, v in _extra(record).items())
        text = f"{when} {record.levelname:<7} {where} {record.name}: {record.getMessage()}"
        if extra:
            text += f" ({extra})"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return mask(text)


# Lines written together go out in writes of at most PIPE_BUF bytes (the system's, from
# `select`), each ending at a line's end: a write to a pipe that size or smaller is never
# interleaved with another process's (gunicorn's processes share one stderr).


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler for many threads: each formats its own line with no lock held, and
    whichever finds nobody writing writes every line waiting, in the order they came, while
    the others go on. logging's own StreamHandler holds its lock across the write, and the
    write lets the interpreter's lock go: under load the threads queued at that lock cost a
    web process two and a half times the CPU a line costs alone (docs/decisions.md, "Log
    lines are written by whichever thread finds nobody writing").

    A line is in the stream when its own thread is the writer; else the writer at work
    writes it before it stops. `flush` waits for the writer, then writes what is left.
    """

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream)
        self._waiting: list[str] = []
        self._waiting_lock = threading.Lock()  # held only to add a line or take them all
        self._writer = threading.Lock()  # held by the thread writing

    def _at_fork_reinit(self) -> None:
        """In a forked child (logging calls this for every handler): the parent's writer, if
        one was at work, is not in the child, and the lines it had waiting are the parent's
        to write."""
        super()._at_fork_reinit()
        self._waiting = []
        self._waiting_lock = threading.Lock()
        self._writer = threading.Lock()

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        """As logging's, less its lock (a filter may hand back the record to log, from 3.12)."""
        kept: object = self.filter(record)
        if not kept:
            return False
        self.emit(kept if isinstance(kept, logging.LogRecord) else record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        with self._waiting_lock:
            self._waiting.append(line)
        self._write_all()

    def flush(self) -> None:
        with self._writer:  # the writer at work finishes first
            self._write_waiting()
        self._write_all()

    def _write_all(self) -> None:
        # The writer looks again after letting go: a line added while it wrote, by a thread
        # that found it writing, is never left behind.
        while self._waiting and self._writer.acquire(blocking=False):
            try:
                self._write_waiting()
            finally:
                self._writer.release()

    def _write_waiting(self) -> None:
        with self._waiting_lock:
            lines, self._waiting = self._waiting, []
        if not lines:
            return
        try:
            for chunk in _chunks(lines, PIPE_BUF):
                self.stream.write(chunk)
                self.stream.flush()
        except Exception:  # as logging does: a broken stream must not break the caller
            self.handleError(logging.makeLogRecord({"msg": f"{len(lines)} log lines lost"}))


def _chunks(lines: list[str], most: int) -> Iterator[str]:
    """The lines joined into runs of at most `most` bytes (a longer line alone), in order."""
    if len(lines) == 1:
        yield lines[0]
        return
    run: list[str] = []
    size = 0
    for line in lines:
        length = len(line) if line.isascii() else len(line.encode())
        if run and size + length > most:
            yield "".join(run)
            run, size = [], 0
        run.append(line)
        size += length
    yield "".join(run)


def configure(
    role: str, fmt: str | None = None, stream: IO[str] | None = None, level: int = logging.INFO
) -> logging.Handler:
    """Send this process's log lines to stderr (or `stream`) as `role`, replacing any handler
    installed here before.

    `fmt` defaults to LOG_FORMAT: json, text, or auto (text on a terminal, else JSON). It is read
    here rather than with the other settings because logging starts before they are checked.
    """
    chosen = (fmt or os.environ.get("LOG_FORMAT") or "auto").lower()
    _process["role"] = role
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "helpline", False)]:
        root.removeHandler(old)
    handler = LineHandler(stream or sys.stderr)
    handler.helpline = True  # type: ignore[attr-defined]
    as_text = chosen == "text" or (chosen not in FORMATS[1:] and _is_terminal(handler.stream))
    handler.setFormatter(TextFormatter() if as_text else JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    if chosen not in FORMATS:
        logging.getLogger(__name__).warning("LOG_FORMAT %r is not json or text; using auto", chosen)
    return handler


def _is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
