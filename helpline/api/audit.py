"""GET /api/v1/audit: the audit log, for coordinators."""

from __future__ import annotations

from typing import Any

from flask import Response

from helpline import web
from helpline.api import after_id, bp, page, page_limit, requires, whole_arg
from helpline.api.render import iso
from helpline.models import AuditEntry
from helpline.services import audit


def entry(row: AuditEntry) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": iso(row.at),
        "action": row.action,
        "actor_id": row.actor_id,
        "conversation_id": row.conversation_id,
        "method": row.method,
        "path": row.path,
        "status": row.status,
        "remote_addr": row.remote_addr,
        "detail": row.detail,
    }


@bp.get("/audit")
@requires("coordinator")
def list_audit() -> Response:
    conversation_id = whole_arg("conversation_id")
    rows = audit.entries(web.db(), conversation_id, after_id(), page_limit() + 1)
    params = {"conversation_id": conversation_id} if conversation_id is not None else {}
    return page(rows, entry, "api.list_audit", **params)
