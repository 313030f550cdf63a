"""API: programs (lines within the helpline) and the numbers that reach them."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from helpline import auditing, web
from helpline.api import bp, fail, get_or_404, json_body, requires
from helpline.models import Program
from helpline.services import programs


def render_program(program: Program) -> dict[str, Any]:
    return {
        "id": program.id,
        "name": program.name,
        "numbers": sorted(n.number for n in program.numbers),
        "required_skills": program.required_skills,
        "language": program.language,
        "texts": program.texts,
        "survey_question": program.survey_question,
    }


@bp.get("/programs")
@requires("coordinator")
def list_programs() -> Response:
    found = programs.all_programs(web.db())
    return jsonify(items=[render_program(p) for p in found], next=None)


@bp.post("/programs")
@requires("coordinator")
def create_program() -> tuple[Response, int]:
    return _save(Program(required_skills=[], texts={}), json_body(), 201)


@bp.get("/programs/<int:program_id>")
@requires("coordinator")
def get_program(program_id: int) -> Response:
    return jsonify(render_program(get_or_404(Program, program_id)))


@bp.patch("/programs/<int:program_id>")
@requires("coordinator")
def patch_program(program_id: int) -> tuple[Response, int]:
    return _save(get_or_404(Program, program_id), json_body(), 200)


@bp.delete("/programs/<int:program_id>")
@requires("coordinator")
def delete_program(program_id: int) -> tuple[str, int]:
    session = web.db()
    session.delete(get_or_404(Program, program_id))
    session.commit()
    auditing.record_change("program", id=program_id, deleted=True)
    return "", 204


def _save(program: Program, data: dict[str, Any], status: int) -> tuple[Response, int]:
    session = web.db()
    try:
        programs.save(session, program, data)
    except programs.ProgramError as exc:
        code = 409 if "belongs to another program" in str(exc) else 400
        raise fail(code, str(exc)) from exc
    session.commit()
    auditing.record_change("program", id=program.id, fields=sorted(data))
    return jsonify(render_program(program)), status
