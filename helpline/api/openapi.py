"""GET /openapi.json: the API described as OpenAPI 3.1."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

_ERR = {
    "description": "error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _op(
    summary: str,
    ok: str = "200",
    body: str | None = None,
    auth: bool = True,
    params: tuple[str, ...] = (),
    errors: tuple[str, ...] = ("400", "401", "403", "404"),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            ok: {
                "description": "success",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
            if ok != "204"
            else {"description": "deleted"},
            **{code: _ERR for code in errors},
        },
    }
    if not auth:
        op["security"] = []
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    if params:
        op["parameters"] = [
            {"name": p, "in": "query", "required": False, "schema": {"type": "string"}}
            for p in params
        ]
    return op


def _id(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}]


def _job_id() -> list[dict[str, Any]]:
    return [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]


def _obj(required: tuple[str, ...] = (), **props: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    return schema


_S = {"type": "string"}
_I = {"type": "integer"}
_LIST = {"type": "array", "items": _S}


def spec() -> dict[str, Any]:
    paged = ("limit", "after")
    return {
        "openapi": "3.1.0",
        "info": {"title": "Helpline router API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": _obj(("error",), error=_S),
                "Credentials": _obj(("email", "password"), email=_S, password=_S),
                "NewSupporter": _obj(
                    ("email", "name", "password"),
                    email=_S,
                    name=_S,
                    password=_S,
                    role={"enum": ["supporter", "coordinator"]},
                    skills=_LIST,
                    languages=_LIST,
                    max_conversations=_I,
                    timezone=_S,
                ),
                "SupporterChanges": _obj(
                    email=_S,
                    name=_S,
                    password=_S,
                    role={"enum": ["supporter", "coordinator"]},
                    skills=_LIST,
                    languages=_LIST,
                    max_conversations=_I,
                    timezone=_S,
                    is_active={"type": "boolean"},
                    skill_expiry={"type": "object"},
                ),
                "Status": _obj(("status",), status={"enum": ["available", "away", "offline"]}),
                "NewShift": _obj(
                    ("supporter_id", "starts_at", "ends_at"),
                    supporter_id=_I,
                    starts_at={"type": "string", "format": "date-time"},
                    ends_at={"type": "string", "format": "date-time"},
                    rrule=_S,
                    timezone=_S,
                ),
                "Settings": {"type": "object"},
                "Occurrence": _obj(
                    ("occurrence",), occurrence={"type": "string", "format": "date-time"}
                ),
                "MovedOccurrence": _obj(
                    ("occurrence", "starts_at", "ends_at"),
                    occurrence={"type": "string", "format": "date-time"},
                    starts_at={"type": "string", "format": "date-time"},
                    ends_at={"type": "string", "format": "date-time"},
                ),
                "Reply": _obj(("body",), body=_S),
                "Transfer": _obj(supporter_id=_I, skill=_S, note=_S),
                "Close": _obj(note=_S),
                "Block": _obj(("reason",), reason=_S, until=_S),
                "BlockNumber": _obj(("number", "reason"), number=_S, reason=_S, until=_S),
                "Program": _obj(
                    ("name",),
                    name=_S,
                    numbers=_LIST,
                    required_skills=_LIST,
                    language=_S,
                    texts={"type": "object"},
                ),
            },
        },
        "paths": {
            "/health": {"get": _op("Database and Redis answer", auth=False, errors=("503",))},
            "/tokens": {
                "post": _op(
                    "Exchange email and password for a bearer token",
                    "201",
                    "Credentials",
                    auth=False,
                    errors=("400", "401"),
                )
            },
            "/supporters": {
                "get": _op("List supporters and coordinators", params=paged),
                "post": _op(
                    "Create a supporter or coordinator",
                    "201",
                    "NewSupporter",
                    errors=("400", "401", "403", "409"),
                ),
            },
            "/supporters/{id}": {
                "parameters": _id("id"),
                "get": _op("One supporter"),
                "patch": _op(
                    "Change a supporter",
                    body="SupporterChanges",
                    errors=("400", "401", "403", "404", "409"),
                ),
            },
            "/supporters/{id}/status": {
                "parameters": _id("id"),
                "put": _op("Set presence", body="Status"),
            },
            "/shifts": {
                "get": _op("Shift occurrences in a window", params=("from", "to", "supporter_id")),
                "post": _op("Create a shift, optionally recurring (RRULE)", "201", "NewShift"),
            },
            "/shifts/{id}/cancel": {
                "parameters": _id("id"),
                "post": _op("Cancel one occurrence of a shift", body="Occurrence"),
            },
            "/shifts/{id}/move": {
                "parameters": _id("id"),
                "post": _op("Move one occurrence of a shift", "201", "MovedOccurrence"),
            },
            "/shifts/{id}": {"parameters": _id("id"), "delete": _op("Delete a shift", "204")},
            "/settings": {
                "get": _op("Routing settings and texts"),
                "patch": _op("Change settings", body="Settings"),
            },
            "/programs": {
                "get": _op("Programs and their helpline numbers"),
                "post": _op(
                    "Create a program", "201", "Program", errors=("400", "401", "403", "409")
                ),
            },
            "/programs/{id}": {
                "parameters": _id("id"),
                "get": _op("One program"),
                "patch": _op(
                    "Change a program", body="Program", errors=("400", "401", "403", "404", "409")
                ),
                "delete": _op("Delete a program", "204"),
            },
            "/queue": {"get": _op("Waiting conversations in serving order")},
            "/blocked": {
                "get": _op("Texters blocked now"),
                "post": _op("Block a number, for a while or until unblocked", "201", "BlockNumber"),
            },
            "/blocked/{id}": {"parameters": _id("id"), "delete": _op("Unblock a texter", "204")},
            "/conversations/{id}/block": {
                "parameters": _id("id"),
                "post": _op("Block this conversation's texter; it closes silently", body="Block"),
            },
            "/audit": {
                "get": _op(
                    "The audit log: views of conversations, refusals, purges",
                    params=("conversation_id", *paged),
                )
            },
            "/conversations": {"get": _op("List conversations", params=("status", *paged))},
            "/conversations/{id}": {
                "parameters": _id("id"),
                "get": _op("One conversation with texts and events"),
            },
            "/conversations/{id}/messages": {
                "parameters": _id("id"),
                "post": _op(
                    "Reply to the texter",
                    "202",
                    "Reply",
                    errors=("400", "401", "403", "404", "409"),
                ),
            },
            "/conversations/{id}/transfer": {
                "parameters": _id("id"),
                "post": _op(
                    "Transfer to a supporter or a skill pool",
                    body="Transfer",
                    errors=("400", "401", "403", "404", "409"),
                ),
            },
            "/conversations/{id}/accept": {
                "parameters": _id("id"),
                "post": _op(
                    "Accept a warm handoff offered to you", errors=("401", "403", "404", "409")
                ),
            },
            "/conversations/{id}/decline": {
                "parameters": _id("id"),
                "post": _op(
                    "Decline a warm handoff offered to you", errors=("401", "403", "404", "409")
                ),
            },
            "/conversations/{id}/notes": {
                "parameters": _id("id"),
                "post": _op("Add a staff-only note (e.g. a handoff note)", "201", "Close"),
            },
            "/jobs/failed": {
                "get": _op(
                    "Jobs in RQ's failed registry, latest first: id, queue, function, "
                    "exception, message, failed_at (never a job's arguments)",
                    params=paged,
                    errors=("400", "401", "403"),
                )
            },
            "/jobs/failed/{id}/retry": {
                "parameters": _job_id(),
                "post": _op("Put one failed job back on its queue", errors=("401", "403", "404")),
            },
            "/jobs/failed/retry": {
                "post": _op(
                    'Put every failed job back on its queue: {"retried": n}',
                    errors=("401", "403"),
                )
            },
            "/conversations/{id}/close": {
                "parameters": _id("id"),
                "post": _op(
                    "Close the conversation",
                    body="Close",
                    errors=("400", "401", "403", "404", "409"),
                ),
            },
        },
    }


def openapi_json() -> Response:
    return jsonify(spec())
