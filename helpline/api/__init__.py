"""The JSON API under /api/v1: bearer tokens, JSON errors, pagination."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, g, jsonify, request, url_for

from helpline import web
from helpline.db import MAX_INTEGER
from helpline.models import User
from helpline.services import users

bp = Blueprint("api", __name__, url_prefix="/api/v1")
_WHOLE = re.compile(r"-?[0-9]{1,10}")
F = TypeVar("F", bound=Callable[..., Any])


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> tuple[Response, int]:
    return jsonify(error=exc.message), exc.status


def fail(status: int, message: str) -> ApiError:
    return ApiError(status, message)


def json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise fail(400, "expected a JSON object body")
    return data


def current_user() -> User:
    return g.api_user  # type: ignore[no-any-return]


def requires(*roles: str) -> Callable[[F], F]:
    """A valid bearer token, and one of `roles` when given."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            user = users.user_for_token(web.db(), token.strip()) if scheme == "Bearer" else None
            if user is None:
                raise fail(401, "missing or invalid bearer token")
            if roles and user.role not in roles:
                raise fail(403, "not allowed for your role")
            g.api_user = user
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def page(
    items: Sequence[Any], render: Callable[[Any], dict[str, Any]], endpoint: str, **params: Any
) -> Response:
    """A list answer, `{"items": [...], "next": URL or null}`, paged by id."""
    limit = page_limit()
    rows = list(items[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_url = None
    if more:
        next_url = url_for(endpoint, _external=True, limit=limit, after=rows[-1].id, **params)
    return jsonify(items=[render(r) for r in rows], next=next_url)


def page_limit() -> int:
    limit = whole_arg("limit", 100)
    if limit is None or not 1 <= limit <= 1000:
        raise fail(400, "limit must be a whole number from 1 to 1000")
    return limit


def after_id() -> int:
    after = whole_arg("after", 0)
    if after is None or after < 0:
        raise fail(400, "after must be a whole number")
    return after


def whole_arg(name: str, default: int | None = None) -> int | None:
    """The query parameter `name` as a whole number (ASCII digits, an optional minus sign),
    `default` when absent; 400 otherwise."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not _WHOLE.fullmatch(raw) or abs(int(raw)) > MAX_INTEGER:
        raise fail(400, f"{name} must be a whole number")
    return int(raw)


def whole(value: object) -> bool:
    """A JSON whole number an integer column can hold (true and false are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INTEGER


def get_or_404(model: type[Any], ident: int) -> Any:
    row = web.db().get(model, ident)
    if row is None:
        abort(404, description=f"no {model.__name__.lower()} with id {ident}")
    return row


from helpline.api import (  # noqa: E402,F401
    audit,
    blocking,
    canned,
    conversations,
    jobs,
    openapi,
    people,
    programs,
)
