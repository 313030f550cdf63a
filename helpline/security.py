"""Security headers on every answer: a strict CSP (no inline script or style), no framing; and
JSON that no browser could read as markup."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider

from helpline.config import Settings

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


def headers_for(settings: Settings) -> dict[str, str]:
    """The headers every answer carries."""
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
    }
    if settings.public_url.startswith("https://"):
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


def init_app(app: Flask, settings: Settings) -> None:
    app.json = MarkupSafeJSON(app)
    by_key = {name.lower(): (name, value) for name, value in headers_for(settings).items()}

    def add_headers(response: Response) -> Response:
        """Each header the view did not set itself (one look at the answer's headers, not one
        a header: this runs for every request Flask answers)."""
        present = {name.lower() for name, _value in response.headers.items()}
        response.headers.extend([pair for key, pair in by_key.items() if key not in present])
        return response

    app.after_request(add_headers)
