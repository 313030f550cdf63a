"""The dev phone: with no Twilio credentials, a page where a person plays a texter.

Texts go through the real, signed webhook over HTTP (signed with the dev token, as Twilio would
sign with the auth token), and the helpline's replies are the outbound texts recorded for the
number: the production path, with no side door.
"""

from __future__ import annotations

import re
import secrets
import urllib.error
import urllib.request
from urllib.parse import urlencode

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from werkzeug.wrappers import Response

from helpline import vault, web
from helpline.models import Message

bp = Blueprint("devphone", __name__, url_prefix="/dev/phone")
DEV_HELPLINE_NUMBER = "+15005550006"
_NUMBER = re.compile(r"^\+[1-9][0-9]{7,14}$")


def _number() -> str:
    number = session.get("dev_phone_number")
    if not number:
        number = f"+155501{secrets.randbelow(10**5):05d}"
        session["dev_phone_number"] = number
    return str(number)


def _texts(number: str) -> list[Message]:
    return list(
        web.db().scalars(
            select(Message).where(Message.texter_key == vault.index(number)).order_by(Message.id)
        )
    )


@bp.get("")
def phone() -> str:
    number = _number()
    template = (
        "devphone/_thread.html" if request.headers.get("HX-Request") else "devphone/index.html"
    )
    return render_template(
        template, number=number, helpline=DEV_HELPLINE_NUMBER, texts=_texts(number)
    )


@bp.post("/number")
def change_number() -> Response:
    number = request.form.get("number", "").strip()
    if not _NUMBER.match(number):
        flash("A number looks like +15550123456.")
    else:
        session["dev_phone_number"] = number
    return redirect(url_for(".phone"))


@bp.post("/send")
def send() -> Response:
    body = request.form.get("body", "")
    if body.strip():
        problem = deliver_to_webhook(_number(), body)
        if problem:
            flash(problem)
    return redirect(url_for(".phone"))


def deliver_to_webhook(number: str, body: str) -> str | None:
    """POST the text to our own webhook exactly as Twilio would; a problem in words, or None."""
    settings = web.settings()
    form = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": "AC" + "0" * 32,
        "From": number,
        "To": DEV_HELPLINE_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    url = settings.public_url + "/twilio/messages"
    signature = RequestValidator(settings.webhook_auth_token).compute_signature(url, form)
    request_ = urllib.request.Request(
        url,
        data=urlencode(form).encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )
    try:
        with urllib.request.urlopen(request_, timeout=10) as answer:  # noqa: S310 (our own URL)
            return None if answer.status == 200 else f"The webhook answered {answer.status}."
    except urllib.error.HTTPError as exc:
        return f"The webhook answered {exc.code}: {exc.read(200).decode(errors='replace')}"
    except OSError as exc:
        return f"Could not reach the webhook at {url} ({exc}). Is PUBLIC_URL right?"
