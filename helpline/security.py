"""Security headers on every answer: a strict CSP (no inline script or style), no framing; and
JSON that no browser could read as markup."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider

from helpline import web

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)


class MarkupSafeJSON(DefaultJSONProvider):
    """JSON with <, >, & and ' written as \\u escapes (non-ASCII already is): a texter's
    `<script>` stays text even for a client that sniffs or pastes it into a page."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        text = super().dumps(obj, **kwargs)
        return text.translate(_UNSAFE_IN_MARKUP)


_UNSAFE_IN_MARKUP = str.maketrans({c: f"\\u{ord(c):04x}" for c in "<>&'"})


def init_app(app: Flask) -> None:
    app.json = MarkupSafeJSON(app)
    app.after_request(add_headers)


def add_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if web.settings().public_url.startswith("https://"):
        response.headers.setdefault(
            "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
        )
    return response
