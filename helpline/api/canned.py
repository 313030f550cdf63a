"""API: canned responses. Coordinators write them; every signed-in supporter reads them."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from helpline import auditing, web
from helpline.api import bp, fail, get_or_404, json_body, requires
from helpline.models import CannedResponse
from helpline.services import canned


def render_canned(row: CannedResponse) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "body": row.body,
        "updated_at": row.updated_at.isoformat(),
    }


@bp.get("/canned-responses")
@requires()
def list_canned() -> Response:
    rows = canned.all_responses(web.db())
    return jsonify(items=[render_canned(r) for r in rows], next=None)


@bp.post("/canned-responses")
@requires("coordinator")
def create_canned() -> tuple[Response, int]:
    return _save(CannedResponse(), json_body(), 201)


@bp.patch("/canned-responses/<int:canned_id>")
@requires("coordinator")
def patch_canned(canned_id: int) -> tuple[Response, int]:
    return _save(get_or_404(CannedResponse, canned_id), json_body(), 200)


@bp.delete("/canned-responses/<int:canned_id>")
@requires("coordinator")
def delete_canned(canned_id: int) -> tuple[str, int]:
    session = web.db()
    session.delete(get_or_404(CannedResponse, canned_id))
    session.commit()
    auditing.record_change("canned response", id=canned_id, deleted=True)
    return "", 204


def _save(row: CannedResponse, data: dict[str, Any], status: int) -> tuple[Response, int]:
    session = web.db()
    try:
        canned.save(session, row, data, web.now())
    except canned.CannedError as exc:
        raise fail(400, str(exc)) from exc
    session.commit()
    auditing.record_change("canned response", id=row.id, fields=sorted(data))
    return jsonify(render_canned(row)), status
