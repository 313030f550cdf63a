"""Console pages for programs (their numbers, needs and texts) and canned responses.

Both are thin: the form becomes the same data the JSON API takes, and services.programs /
services.canned decide what is acceptable.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from helpline import auditing, web
from helpline.console import coordinator_required, no_store
from helpline.models import CannedResponse, Program
from helpline.services import canned, programs
from helpline.settings_help import TEXTS

bp = Blueprint("console_programs", __name__, url_prefix="/console")
Page = Response | tuple[str, int]
PROGRAM_TEXTS = tuple(t for t in TEXTS if t.key.startswith("text_"))
MAX_FIELD = 4000
MAX_QUERY = 200
_SPACING = re.compile(r"[\s().-]")


def _program_data(form: MultiDict[str, str]) -> dict[str, Any]:
    """The form as the programs API's body: lists split, empty overrides left out."""
    numbers = re.split(r"[\n,;]+", form.get("numbers", "")[:MAX_FIELD])
    skills = re.split(r"[\n,;]+", form.get("required_skills", "")[:MAX_FIELD])
    texts = {}
    for text in PROGRAM_TEXTS:
        value = form.get(text.key, "").replace("\r\n", "\n")
        if value.strip():
            texts[text.key] = value
    return {
        "name": form.get("name", ""),
        "numbers": [n for n in (_SPACING.sub("", n) for n in numbers) if n],
        "language": form.get("language", "").strip() or None,
        "required_skills": [s.strip() for s in skills if s.strip()],
        "texts": texts,
    }


def _field_of(message: str) -> str:
    """Which form field a ProgramError names ('numbers must …', 'texts: text_closed …')."""
    words = message.replace(":", "").split()
    if words and words[0] == "texts" and len(words) > 1:
        return words[1]
    return words[0] if words and words[0] in ("name", "numbers", "language") else ""


def _program_form(program: Program | None, form: dict[str, Any] | None = None) -> dict[str, Any]:
    if form is not None:
        return form
    if program is None:
        return {}
    return {
        "name": program.name,
        "numbers": "\n".join(sorted(n.number for n in program.numbers)),
        "language": program.language or "",
        "required_skills": ", ".join(program.required_skills or []),
        **(program.texts or {}),
    }


def _programs_page(
    program: Program | None, form: dict[str, Any] | None = None, error: str = "", status: int = 200
) -> Page:
    context = {
        "program": program,
        "form": _program_form(program, form),
        "errors": {_field_of(error): error} if error else {},
        "texts": PROGRAM_TEXTS,
        "programs": programs.all_programs(web.db()),
    }
    template = "console/program.html" if program else "console/programs.html"
    page = render_template(template, **context)
    return (page, status) if status != 200 else no_store(page)


def _program(program_id: int) -> Program:
    program = web.db().get(Program, program_id)
    if program is None:
        abort(404)
    return program


@bp.get("/programs")
@coordinator_required
def program_list() -> Page:
    return _programs_page(None)


@bp.get("/programs/<int:program_id>")
@coordinator_required
def program_page(program_id: int) -> Page:
    return _programs_page(_program(program_id))


@bp.post("/programs")
@coordinator_required
def create_program() -> Page:
    return _save_program(None)


@bp.post("/programs/<int:program_id>")
@coordinator_required
def save_program(program_id: int) -> Page:
    return _save_program(_program(program_id))


def _save_program(program: Program | None) -> Page:
    """Save through programs.save; a refusal is shown next to its field, with the form kept."""
    session = web.db()
    target = program or Program(required_skills=[], texts={})
    data = _program_data(request.form)
    try:
        programs.save(session, target, data)
    except programs.ProgramError as exc:
        session.rollback()
        status = 409 if "belongs to another program" in str(exc) else 400
        kept = program if program is not None and program.id is not None else None
        return _programs_page(kept, dict(request.form), str(exc), status)
    session.commit()
    auditing.record_change("program", id=target.id, fields=sorted(data))
    flash(f"Program {target.name} saved.")
    return redirect(url_for(".program_page", program_id=target.id))


@bp.post("/programs/<int:program_id>/delete")
@coordinator_required
def delete_program(program_id: int) -> Response:
    """Its numbers fall back to the default settings; conversations stay."""
    session = web.db()
    program = _program(program_id)
    name = program.name
    session.delete(program)
    session.commit()
    auditing.record_change("program", id=program_id, deleted=True)
    flash(f"Program {name} deleted; its numbers now use the default texts.")
    return redirect(url_for(".program_list"))


def _matches(row: CannedResponse, query: str) -> bool:
    words = query.lower().split()
    haystack = f"{row.title}\n{row.body}".lower()
    return all(word in haystack for word in words)


def _canned_page(
    row: CannedResponse | None, form: dict[str, str] | None = None, error: str = ""
) -> Page:
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    rows = [r for r in canned.all_responses(web.db()) if _matches(r, query)]
    if form is None:
        form = {"title": row.title, "body": row.body} if row else {}
    context = {"row": row, "rows": rows, "q": query, "form": form, "error": error}
    page = render_template("console/canned_edit.html" if row else "console/canned.html", **context)
    return (page, 400) if error else no_store(page)


def _canned(canned_id: int) -> CannedResponse:
    row = web.db().get(CannedResponse, canned_id)
    if row is None:
        abort(404)
    return row


@bp.get("/canned")
@coordinator_required
def canned_list() -> Page:
    return _canned_page(None)


@bp.get("/canned/<int:canned_id>")
@coordinator_required
def canned_page(canned_id: int) -> Page:
    return _canned_page(_canned(canned_id))


@bp.post("/canned")
@coordinator_required
def create_canned() -> Page:
    return _save_canned(None)


@bp.post("/canned/<int:canned_id>")
@coordinator_required
def save_canned(canned_id: int) -> Page:
    return _save_canned(_canned(canned_id))


def _save_canned(row: CannedResponse | None) -> Page:
    session = web.db()
    target = row or CannedResponse()
    form = {"title": request.form.get("title", ""), "body": request.form.get("body", "")}
    data = {"title": form["title"][:MAX_FIELD], "body": form["body"].replace("\r\n", "\n")}
    try:
        canned.save(session, target, data, web.now())
    except canned.CannedError as exc:
        session.rollback()
        return _canned_page(row, form, str(exc))
    session.commit()
    auditing.record_change("canned response", id=target.id, fields=sorted(data))
    flash(f"Canned response “{target.title}” saved.")
    return redirect(url_for(".canned_list"))


@bp.post("/canned/<int:canned_id>/delete")
@coordinator_required
def delete_canned(canned_id: int) -> Response:
    session = web.db()
    row = _canned(canned_id)
    title = row.title
    session.delete(row)
    session.commit()
    auditing.record_change("canned response", id=canned_id, deleted=True)
    flash(f"Canned response “{title}” deleted.")
    return redirect(url_for(".canned_list"))
