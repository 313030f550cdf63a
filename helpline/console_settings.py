"""Console settings: routing timings in human units, the texts sent to texters, risk rules.

The rules for what a value may be are services.settings.check, the same the JSON API uses;
this module only turns form fields (minutes, hours, days) into the values it checks.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal, InvalidOperation
from string import Formatter
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from helpline import auditing, web
from helpline.console import coordinator_required, no_store
from helpline.services import settings
from helpline.settings_help import ROUTING, TEXT_KEYS, TEXTS, UNITS, Field
from routing import triage

bp = Blueprint("console_settings", __name__, url_prefix="/console")
TEXT_HELP = {t.key: t for t in TEXTS}
MAX_NUMBER = 24  # characters in a number field; longer is not a number anyone means
MAX_SAMPLE = 1600
Page = Response | tuple[str, int]


def _shown(field: Field, value: Any) -> str:
    """A stored value as the form shows it: seconds in the field's unit, '1.5' not '1.50'."""
    if not field.unit:
        return str(value)
    amount = Decimal(int(value)) / UNITS[field.unit]
    return f"{amount.normalize():f}"


def _parsed(field: Field, text: str) -> object:
    """The form's text as the value services.settings checks; a unit becomes whole seconds."""
    text = text.strip()
    if not field.unit:
        digits = text.removeprefix("-")
        whole = digits.isascii() and digits.isdecimal() and len(text) <= MAX_NUMBER
        return int(text) if whole else text
    try:
        amount = Decimal(text) if len(text) <= MAX_NUMBER else Decimal("NaN")
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise settings.SettingsError(f"enter a number of {field.unit}, like 3 or 1.5")
    if amount.adjusted() > MAX_NUMBER:
        amount = Decimal(10) ** MAX_NUMBER  # still too large for the check, without a huge int
    return int((amount * UNITS[field.unit]).to_integral_value())


def _routing_page(values: dict[str, Any], errors: dict[str, str], status: int = 200) -> Page:
    page = render_template("console/settings.html", groups=ROUTING, values=values, errors=errors)
    return (page, status) if status != 200 else no_store(page)


@bp.get("/settings")
@coordinator_required
def routing_settings() -> Page:
    values = settings.load(web.db())
    shown = {f.key: _shown(f, values[f.key]) for group in ROUTING for f in group.fields}
    return _routing_page(shown, {})


@bp.post("/settings")
@coordinator_required
def save_routing() -> Page:
    """Check every field as the API would; save only what changed, or show each refusal."""
    session = web.db()
    current = settings.load(session)
    changes: dict[str, object] = {}
    errors: dict[str, str] = {}
    for group in ROUTING:
        for field in group.fields:
            try:
                value = _parsed(field, request.form.get(field.key, ""))
                settings.check(field.key, value)
            except settings.SettingsError as exc:
                errors[field.key] = str(exc)
                continue
            if value != current[field.key]:
                changes[field.key] = value
    if errors:
        return _routing_page(dict(request.form), errors, 400)
    if changes:
        settings.update(session, changes)
        session.commit()
        auditing.record_change("settings", keys=sorted(changes))
    flash(f"Saved {len(changes)} change(s)." if changes else "Nothing was changed.")
    return redirect(url_for(".routing_settings"))


def _texts_page(
    values: dict[str, Any], errors: dict[str, str] | None = None, status: int = 200
) -> Page:
    context = {"texts": TEXTS, "values": values, "defaults": settings.DEFAULTS}
    page = render_template("console/texts.html", errors=errors or {}, **context)
    return (page, status) if status != 200 else no_store(page)


@bp.get("/texts")
@coordinator_required
def texts() -> Page:
    return _texts_page(settings.load(web.db()))


def _text_key() -> str:
    key = request.form.get("key", "")
    if key not in TEXT_KEYS:
        raise settings.SettingsError("choose one of the texts on this page")
    return key


@bp.post("/texts")
@coordinator_required
def save_text() -> Page:
    """Change one text; a refusal is shown next to it, with what was typed kept."""
    session = web.db()
    try:
        key = _text_key()
        value = request.form.get("value", "").replace("\r\n", "\n")
        settings.update(session, {key: value})
    except settings.SettingsError as exc:
        session.rollback()
        key = request.form.get("key", "")
        if key not in TEXT_KEYS:
            return _texts_page(settings.load(session), {"": str(exc)}, 400)
        values = {**settings.load(session), key: request.form.get("value", "")}
        return _texts_page(values, {key: str(exc)}, 400)
    session.commit()
    auditing.record_change("texts", keys=[key])
    unknown = _unknown_placeholders(key, value)
    if unknown:
        flash(
            f"Saved, but {', '.join(unknown)} is not filled in for this text: until it is "
            "corrected the default text is sent instead."
        )
    else:
        flash("Text saved.")
    return redirect(url_for(".texts") + "#" + key)


def _unknown_placeholders(key: str, value: str) -> list[str]:
    """Placeholders written in a text that its sender does not fill (a typo, usually)."""
    known = {name.strip("{}") for name, _ in TEXT_HELP[key].placeholders}
    try:
        written = {field for _, field, _, _ in Formatter().parse(value) if field is not None}
    except ValueError:
        return ["a stray { or }"]
    return sorted(f"{{{name}}}" for name in written - known)


@bp.post("/texts/reset")
@coordinator_required
def reset_text() -> Page:
    session = web.db()
    try:
        key = _text_key()
    except settings.SettingsError as exc:
        return _texts_page(settings.load(session), {"": str(exc)}, 400)
    settings.reset(session, key)
    session.commit()
    auditing.record_change("texts", keys=[key], reset=True)
    flash("Text set back to the default.")
    return redirect(url_for(".texts") + "#" + key)


def _built_in_rules() -> OrderedDict[str, list[str]]:
    grouped: OrderedDict[str, list[str]] = OrderedDict()
    for rule in triage.DEFAULT_RULES:
        grouped.setdefault(rule.category, []).append(rule.pattern)
    return grouped


def _risk_context(values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "rules": _built_in_rules(),
        "phrases": values["risk_extra_phrases"],
        "answers": values["intake_urgent_answers"],
        "intake": values["text_intake"],
        "errors": {},
        **extra,
    }


@bp.get("/risk")
@coordinator_required
def risk() -> Page:
    return no_store(render_template("console/risk.html", **_risk_context(settings.load(web.db()))))


@bp.post("/risk")
@coordinator_required
def save_risk() -> Page:
    session = web.db()
    form = request.form
    changes = {
        "risk_extra_phrases": form.get("risk_extra_phrases", "").replace("\r\n", "\n").strip(),
        "intake_urgent_answers": form.get("intake_urgent_answers", "").strip(),
    }
    errors: dict[str, str] = {}
    for key, value in changes.items():
        try:
            settings.check(key, value)
        except settings.SettingsError as exc:
            errors[key] = str(exc)
    if errors:
        values = {**settings.load(session), **changes}
        return render_template("console/risk.html", **_risk_context(values, errors=errors)), 400
    settings.update(session, changes)
    session.commit()
    auditing.record_change("risk rules", keys=sorted(changes))
    flash("Risk rules saved.")
    return redirect(url_for(".risk"))


@bp.post("/risk/test")
@coordinator_required
def test_risk() -> Page:
    """Would this text make a conversation urgent, and which words did it?"""
    sample = request.form.get("sample", "")[:MAX_SAMPLE]
    values = settings.load(web.db())
    found = triage.assess(sample, triage.rule_set(settings.risk_phrases(values)))
    result = {"sample": sample, "risk": found}
    if request.headers.get("HX-Request"):
        return no_store(render_template("console/_risk_result.html", **result))
    context = _risk_context(values, **result)
    return no_store(render_template("console/risk.html", **context))
