"""Programs: each helpline number can belong to one, with its own needs (skills, language) and
texts. A number no program claims falls back to the default: the global settings."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpline.models import Program, ProgramNumber
from helpline.services import settings as settings_service

NUMBER = r"^(whatsapp:)?\+[1-9][0-9]{6,14}$"
LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"
MAX_SURVEY_QUESTION = 320  # two SMS segments at most: it rides on the closing text
_NUMBER = re.compile(NUMBER)
_LANGUAGE = re.compile(LANGUAGE)


class ProgramError(ValueError):
    """Invalid program data; the message says which field and why."""


def program_for(session: Session, number: str) -> Program | None:
    """The program a helpline number belongs to, or None for the default."""
    row = session.get(ProgramNumber, number)
    return row.program if row else None


def texts_for(values: dict[str, Any], program: Program | None) -> dict[str, Any]:
    """Settings with the program's own texts laid over them."""
    return {**values, **program.texts} if program and program.texts else values


def save(session: Session, program: Program, data: dict[str, Any]) -> Program:
    """Validate and apply `data` to `program` (new or existing)."""
    clean = _validate(data, creating=program.id is None)
    numbers = clean.pop("numbers", None)
    for key, value in clean.items():
        setattr(program, key, value)
    if numbers is not None:
        program.numbers = [ProgramNumber(number=n) for n in numbers]
    session.add(program)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise ProgramError("that name or one of those numbers belongs to another program") from exc
    return program


def _validate(data: dict[str, Any], creating: bool) -> dict[str, Any]:  # noqa: C901
    unknown = set(data) - {
        "name",
        "numbers",
        "required_skills",
        "language",
        "texts",
        "survey_question",
    }
    if unknown:
        raise ProgramError(f"unknown field(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    if "name" in data or creating:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 80:
            raise ProgramError("name must be 1 to 80 characters")
        out["name"] = name.strip()
    if "numbers" in data:
        numbers = data["numbers"]
        if not isinstance(numbers, list) or not all(
            isinstance(n, str) and _NUMBER.fullmatch(n) for n in numbers
        ):
            raise ProgramError("numbers must be E.164 numbers, optionally whatsapp:-prefixed")
        out["numbers"] = sorted(set(numbers))
    if "required_skills" in data:
        skills = data["required_skills"]
        if not isinstance(skills, list) or not all(isinstance(s, str) and s for s in skills):
            raise ProgramError("required_skills must be a list of skill names")
        out["required_skills"] = sorted({s.strip().lower() for s in skills})
    if "language" in data:
        language = data["language"]
        if language is not None and (
            not isinstance(language, str) or not _LANGUAGE.fullmatch(language)
        ):
            raise ProgramError("language must be a language code such as 'es' or null")
        out["language"] = language
    if "texts" in data:
        out["texts"] = _texts(data["texts"])
    if "survey_question" in data:
        out["survey_question"] = _survey_question(data["survey_question"])
    return out


def _survey_question(question: object) -> str | None:
    """Blank or null: no survey for this program."""
    if question is not None and not isinstance(question, str):
        raise ProgramError("survey_question must be a text or null")
    if question is None or not question.strip():
        return None
    if len(question) > MAX_SURVEY_QUESTION:
        raise ProgramError(f"survey_question must be at most {MAX_SURVEY_QUESTION} characters")
    return question.strip()


def _texts(texts: object) -> dict[str, str]:
    if not isinstance(texts, dict):
        raise ProgramError("texts must be an object of text settings")
    allowed = {k for k in settings_service.DEFAULTS if k.startswith("text_")}
    for key, value in texts.items():
        if key not in allowed:
            raise ProgramError(f"texts: unknown text {key!r}")
        if not isinstance(value, str) or not value.strip() or len(value) > 1000:
            raise ProgramError(f"texts: {key} must be 1 to 1000 characters")
    return dict(texts)


def all_programs(session: Session) -> list[Program]:
    return list(session.scalars(select(Program).order_by(Program.id)))
