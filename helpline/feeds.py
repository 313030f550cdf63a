"""Public by token: a person's calendar feed (the token is the credential) and the pages to
make or reset one's link."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, render_template, request, url_for
from werkzeug.wrappers import Response

from helpline import throttle, web
from helpline.models import User
from helpline.services import calendar_feed

bp = Blueprint("feeds", __name__)
FEED_LIMIT = 60  # fetches of one feed per hour: calendar apps poll every few minutes at most
MISS_LIMIT = 20  # wrong tokens from one address...
MISS_WINDOW_S = 15 * 60  # ...within this window, then refused until it passes


@bp.get("/calendar/<token>.ics")
def shift_feed(token: str) -> Response:
    """A person's shifts as iCalendar; an unknown or reset token is a 404, guessing is slowed."""
    misses = throttle.key("feed-address", request.remote_addr or "unknown")
    if throttle.is_blocked(web.redis(), [(misses, MISS_LIMIT)]):
        abort(429)
    person = calendar_feed.person_for_token(web.db(), token)
    if person is None:
        throttle.record_failure(web.redis(), [misses], MISS_WINDOW_S)
        abort(404)
    if throttle.is_over_rate(web.redis(), throttle.key("feed", token), FEED_LIMIT, 3600):
        abort(429)
    domain = urlsplit(web.settings().public_url).hostname or "helpline"
    body = calendar_feed.feed(web.db(), person, web.now(), domain)
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="shifts.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def feed_url(token: str) -> str:
    """The full address to give a calendar app."""
    return web.settings().public_url.rstrip("/") + url_for("feeds.shift_feed", token=token)


def link_page(person: User, token: str | None, back: str) -> Response:
    """The page that shows a person's feed link (only right after it was made)."""
    page = render_template(
        "calendar_feed.html",
        person=person,
        url=feed_url(token) if token else None,
        has_link=person.calendar_token_hash is not None,
        back=back,
    )
    response = Response(page, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
