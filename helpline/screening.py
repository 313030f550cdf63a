"""What every request is screened for before a view reads it: input no database column can hold.

- NUL characters: PostgreSQL text cannot store them (SQLite can, but both must behave alike).
- Lone surrogates in JSON strings (`"\\ud800"`): not Unicode, so not encodable for storage.
- NaN and infinities (not JSON at all, though Python's parser takes them).

Ids in paths beyond what an integer column holds are simply not found (404). Whole numbers in
bodies are checked by the field that takes them (`helpline.api.whole`).

Each is refused with a 400 naming the problem, never a 500 from deep inside. Twilio's webhooks
read their raw, signed body themselves and are screened there (helpline.webhooks).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from flask import Flask, abort, request

from helpline.db import MAX_INTEGER


def init_app(app: Flask) -> None:
    app.url_value_preprocessor(ids_in_range)
    app.before_request(screen)


def ids_in_range(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """An id in the path that no column can hold is simply not found."""
    if values and any(isinstance(v, int) and v > MAX_INTEGER for v in values.values()):
        abort(404)


def screen() -> None:
    if request.blueprint == "webhooks":
        return
    for source, key, value in _fields():
        if "\x00" in key or "\x00" in value:
            abort(400, description=f"the {source} contains a NUL character")
    if request.is_json:
        problem = problem_in(request.get_json(silent=True), "body")
        if problem:
            abort(400, description=problem)


def _fields() -> Iterator[tuple[str, str, str]]:
    yield from (("query", k, v) for k, v in request.args.items(multi=True))
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        yield from (("form", k, v) for k, v in request.form.items(multi=True))


def problem_in(value: object, where: str) -> str | None:
    """What makes a decoded JSON value unstorable, in words, or None."""
    if isinstance(value, str):
        return _text_problem(value, where)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where}: numbers must be finite"
    if isinstance(value, list):
        return next((p for i, v in enumerate(value) if (p := problem_in(v, f"{where}[{i}]"))), None)
    if isinstance(value, dict):
        return next(
            (
                p
                for k, v in value.items()
                if (p := _text_problem(str(k), where) or problem_in(v, f"{where}.{k[:40]}"))
            ),
            None,
        )
    return None


def _text_problem(text: str, where: str) -> str | None:
    if "\x00" in text:
        return f"{where}: contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"{where}: is not valid Unicode (a lone surrogate)"
    return None
