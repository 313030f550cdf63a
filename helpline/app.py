"""The application factory: configuration, extensions, blueprints; nothing else."""

from __future__ import annotations

import logging
import sys
from typing import Any

from flask import Flask, Request, Response, jsonify, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException

from helpline import (
    auditing,
    cli,
    logs,
    metrics,
    request_log,
    screening,
    security,
    vault,
    web,
)
from helpline.config import ConfigError, Settings

csrf = CSRFProtect()


def create_app(settings: Settings | None = None, **flask_config: Any) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.session_interface = CookieSessions()
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        MAX_CONTENT_LENGTH=256 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        **flask_config,
    )
    if not logging.getLogger().handlers:  # gunicorn's logger class (or a test) set it up already
        logs.configure("web")
    vault.configure(settings.vault_key)
    web.init_app(app, settings)
    request_log.init_app(app)
    metrics.init_app(app)
    screening.init_app(app)
    csrf.init_app(app)
    security.init_app(app, settings)
    auditing.init_app(app)
    cli.init_app(app)

    from helpline import (
        api,
        auth,
        console,
        console_programs,
        console_settings,
        devphone,
        feeds,
        inbox,
        invites,
        webhooks,
    )

    for blueprint in (webhooks.bp, api.bp):
        csrf.exempt(blueprint)  # signed by Twilio / bearer tokens instead of cookies
    webhooks.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(invites.bp)
    app.register_blueprint(console_settings.bp)
    app.register_blueprint(console_programs.bp)
    if not settings.sends_texts and not settings.production:
        # Anyone may play any texter on the dev phone: never in production, credentials or not.
        app.register_blueprint(devphone.bp)
    app.add_url_rule("/openapi.json", "openapi", api.openapi.openapi_json)
    app.register_error_handler(HTTPException, _http_error)
    return app


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, but a request that brings no session cookie (Twilio's
    webhooks, the API's token calls) starts an empty one without building a signer first:
    Flask builds one for every request, a sixth of what a webhook spent in Flask."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def _http_error(exc: HTTPException) -> Response | HTTPException:
    """JSON errors under /api/, Flask's own pages elsewhere; never a traceback."""
    if request.path.startswith("/api/"):
        return json_error(exc)
    return exc


def json_error(exc: HTTPException) -> Response:
    """`{"error": …}` with the exception's status and headers (a 405 keeps its Allow)."""
    response = jsonify(error=exc.description or exc.name)
    response.status_code = exc.code or 500
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def create_app_or_exit() -> Flask:
    """For wsgi.py: an unusable setting stops the process with one line naming it."""
    try:
        return create_app()
    except ConfigError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
