"""GET /openapi.json: the API described as OpenAPI 3.1 (the shapes are in api/schemas.py)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from helpline.api import schemas
from helpline.db import MAX_INTEGER

Operation = dict[str, Any]
ERROR = {
    "description": "refused; `error` says why",
    "content": {"application/json": {"schema": schemas.ref("Error")}},
}
SIGNED_IN = ("400", "401")  # a bad body, query or token, or none: every call that needs one
COORDINATORS = (*SIGNED_IN, "403")
ONE = (*COORDINATORS, "404")


def op(
    summary: str,
    answer: str | None,
    status: str = "200",
    body: str | None = None,
    errors: tuple[str, ...] = ONE,
    query: dict[str, schemas.Schema] | None = None,
    public: bool = False,
    body_optional: bool = False,
) -> Operation:
    """One operation: what it takes, what it answers on success, and how it may refuse."""
    success: dict[str, Any] = {"description": summary}
    if answer:
        success["content"] = {"application/json": {"schema": schemas.ref(answer)}}
    operation: Operation = {
        "summary": summary,
        "responses": {status: success, **{code: ERROR for code in errors}},
    }
    if public:
        operation["security"] = []
    if body:
        operation["requestBody"] = {
            "required": not body_optional,
            "content": {"application/json": {"schema": schemas.ref(body)}},
        }
    if query:
        operation["parameters"] = [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in query.items()
        ]
    return operation


def with_id(**operations: Operation) -> dict[str, Any]:
    """A path with an `{id}`: ids are whole numbers; one no column can hold is simply absent."""
    return {
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": schemas.WHOLE}],
        **operations,
    }


PAGED = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
    "after": {"type": "integer", "minimum": 0, "maximum": MAX_INTEGER},
}


def paths() -> dict[str, Any]:
    conflict = (*ONE, "409")
    return {
        "/health": {"get": op("Database and Redis answer", "Health", public=True, errors=("503",))},
        "/tokens": {
            "post": op(
                "Exchange email and password for a bearer token",
                "Token",
                "201",
                "Credentials",
                errors=("400", "401", "429"),
                public=True,
            )
        },
        "/supporters": {
            "get": op(
                "Supporters and coordinators", "Supporters", errors=COORDINATORS, query=PAGED
            ),
            "post": op(
                "Create a supporter or coordinator (a timezone must be an IANA zone name)",
                "Supporter",
                "201",
                "NewSupporter",
                (*COORDINATORS, "409"),
            ),
        },
        "/supporters/{id}": with_id(
            get=op("One supporter (supporters: only themselves)", "Supporter"),
            patch=op("Change a supporter", "Supporter", body="SupporterChanges", errors=conflict),
        ),
        "/supporters/{id}/status": with_id(
            put=op("Set presence (a supporter: only their own)", "Supporter", body="Status")
        ),
        "/shifts": {
            "get": op(
                "Shift occurrences in a window of at most 366 days (supporters: their own)",
                "ShiftOccurrences",
                errors=COORDINATORS,
                query={"from": schemas.TIME, "to": schemas.TIME, "supporter_id": schemas.WHOLE},
            ),
            "post": op(
                "Create a shift (ends after it starts, lasts at most 48 hours), optionally "
                "recurring by an RFC 5545 RRULE in an IANA timezone",
                "Shift",
                "201",
                "NewShift",
            ),
        },
        "/shifts/{id}": with_id(delete=op("Delete a shift", None, "204")),
        "/shifts/{id}/cancel": with_id(
            post=op(
                "Cancel the occurrence of the shift that starts at `occurrence`",
                "Cancelled",
                body="Occurrence",
            )
        ),
        "/shifts/{id}/move": with_id(
            post=op(
                "Move the occurrence that starts at `occurrence`; answers the new shift",
                "Shift",
                "201",
                "MovedOccurrence",
            )
        ),
        "/settings": {
            "get": op("Routing settings and texts", "Settings", errors=COORDINATORS),
            "patch": op(
                "Change settings (helpline_timezone must be an IANA zone name)",
                "Settings",
                body="SettingsChanges",
                errors=COORDINATORS,
            ),
        },
        "/programs": {
            "get": op("Programs and their helpline numbers", "Programs", errors=COORDINATORS),
            "post": op("Create a program", "Program", "201", "NewProgram", (*COORDINATORS, "409")),
        },
        "/programs/{id}": with_id(
            get=op("One program", "Program"),
            patch=op("Change a program", "Program", body="ProgramChanges", errors=conflict),
            delete=op("Delete a program", None, "204"),
        ),
        "/canned-responses": {
            "get": op("Canned responses (any signed-in user)", "CannedResponses", errors=SIGNED_IN),
            "post": op(
                "Create a canned response ({supporter_first_name} is filled in when used)",
                "CannedResponse",
                "201",
                "NewCannedResponse",
                COORDINATORS,
            ),
        },
        "/canned-responses/{id}": with_id(
            patch=op("Change a canned response", "CannedResponse", body="CannedResponseChanges"),
            delete=op("Delete a canned response", None, "204"),
        ),
        "/queue": {
            "get": op("Waiting conversations in serving order", "Queue", errors=COORDINATORS)
        },
        **conversation_paths(conflict),
        **oversight_paths(),
    }


def oversight_paths() -> dict[str, Any]:
    """Coordinators' oversight: blocked texters, the audit log, failed jobs."""
    job_id = {"name": "id", "in": "path", "required": True, "schema": schemas.text(200)}
    return {
        "/conversations/{id}/block": with_id(
            post=op(
                "Block this conversation's texter (until a future time, or until unblocked); "
                "the conversation closes without a text",
                "Blocked",
                body="Block",
            )
        ),
        "/blocked": {
            "get": op("Texters blocked now", "BlockedList", errors=COORDINATORS),
            "post": op(
                "Block a number, whether or not it has texted (until a future time)",
                "Blocked",
                "201",
                "BlockNumber",
                errors=COORDINATORS,
            ),
        },
        "/blocked/{id}": with_id(delete=op("Unblock a texter", None, "204")),
        "/audit": {
            "get": op(
                "The audit log: views of and actions on conversations, refusals, purges, "
                "erasures and blocks",
                "AuditLog",
                errors=COORDINATORS,
                query={"conversation_id": schemas.WHOLE, **PAGED},
            )
        },
        "/jobs/failed": {
            "get": op(
                "Jobs in RQ's failed registry, latest first (never their arguments)",
                "FailedJobs",
                errors=COORDINATORS,
                query={
                    "limit": PAGED["limit"],
                    "after": {**schemas.STRING, "pattern": r"^[0-9]+\..+$"},  # a page's cursor
                },
            )
        },
        "/jobs/failed/{id}/retry": {
            "parameters": [job_id],
            "post": op("Put one failed job back on its queue", "RetriedJob"),
        },
        "/jobs/failed/retry": {
            "post": op("Put every failed job back on its queue", "RetriedAll", errors=COORDINATORS)
        },
    }


def conversation_paths(conflict: tuple[str, ...]) -> dict[str, Any]:
    return {
        "/conversations": {
            "get": op(
                "Conversations (supporters: the ones they hold)",
                "Conversations",
                errors=SIGNED_IN,
                query={"status": {"enum": ["queued", "active", "closed"]}, **PAGED},
            )
        },
        "/conversations/{id}": with_id(
            get=op("One conversation with texts and events", "Conversation")
        ),
        "/conversations/{id}/messages": with_id(
            post=op(
                "Reply to the texter (only the supporter holding it)",
                "Message",
                "202",
                "Reply",
                conflict,
            )
        ),
        "/conversations/{id}/transfer": with_id(
            post=op(
                "Transfer to a supporter or a skill pool",
                "Conversation",
                body="Transfer",
                errors=conflict,
            )
        ),
        "/conversations/{id}/accept": with_id(
            post=op("Accept a warm handoff offered to you", "Conversation", errors=conflict)
        ),
        "/conversations/{id}/decline": with_id(
            post=op("Decline a warm handoff offered to you", "Conversation", errors=conflict)
        ),
        "/conversations/{id}/notes": with_id(
            post=op("Add a staff-only note (e.g. a handoff note)", "Event", "201", "Note")
        ),
        "/conversations/{id}/escalate": with_id(
            post=op(
                "Escalate to crisis: urgent, crisis-trained supporters only (handed on if the "
                "holder is not crisis-trained)",
                "Conversation",
                body="Escalate",
                errors=conflict,
                body_optional=True,
            )
        ),
        "/conversations/{id}/close": with_id(
            post=op(
                "Close the conversation",
                "Conversation",
                body="Close",
                errors=conflict,
                body_optional=True,
            )
        ),
    }


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Helpline router API",
            "version": "1",
            "description": "Texts never contain NUL characters: a NUL anywhere is refused (400).",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {**schemas.requests(), **schemas.answers()},
        },
        "paths": paths(),
    }


def openapi_json() -> Response:
    return jsonify(spec())
