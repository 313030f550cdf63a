"""The JSON shapes of /openapi.json: what each call accepts and answers.

The document must say what the API really does (schemathesis checks it against the running
app, tests/web/test_fuzz_api.py): a rule the server enforces is written here too, as far as
JSON Schema can say it. Patterns use only syntax that Python's `re` and ECMAScript read alike.
"""

from __future__ import annotations

from typing import Any

from helpline.db import MAX_INTEGER
from helpline.services import canned, intake, outcomes, programs, users
from helpline.services import settings as settings_service

NOT_BLANK = f"[^{users.WHITESPACE}]"  # unanchored: one character somewhere that is not a space

Schema = dict[str, Any]
STRING: Schema = {"type": "string"}
WHOLE: Schema = {"type": "integer", "minimum": -MAX_INTEGER, "maximum": MAX_INTEGER}
ID: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER}
TIME: Schema = {"type": "string", "format": "date-time"}
BOOLEAN: Schema = {"type": "boolean"}
NAMES: Schema = {"type": "array", "items": STRING}


def text(longest: int, blank: bool = False) -> Schema:
    """A text of at most `longest` characters; not only whitespace unless `blank`."""
    schema: Schema = {"type": "string", "maxLength": longest}
    if not blank:
        schema.update(minLength=1, pattern=NOT_BLANK)
    return schema


def null_or(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(*required: str, **props: Schema) -> Schema:
    """An object with these properties, the `required` ones always present."""
    schema: Schema = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    return schema


def closed(schema: Schema) -> Schema:
    """The server refuses fields it does not know."""
    return {**schema, "additionalProperties": False}


def page_of(item: str) -> Schema:
    return obj(
        "items",
        "next",
        items={"type": "array", "items": ref(item)},
        next=null_or({"type": "string", "format": "uri"}),
    )


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _user_fields() -> dict[str, Schema]:
    short_names = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 40}}
    return {
        "email": {"type": "string", "maxLength": 254, "pattern": users.EMAIL_PATTERN},
        "name": text(120),
        "password": {"type": "string", "minLength": 8, "maxLength": 1024},
        "role": {"enum": list(users.ROLES)},
        "skills": short_names,
        "languages": short_names,
        "max_conversations": {"type": "integer", "minimum": 0, "maximum": 50},
        "timezone": {**STRING, "description": "an IANA zone name, e.g. Europe/Paris"},
        "is_active": BOOLEAN,
        "skill_expiry": {
            "type": "object",
            "additionalProperties": TIME,
            "description": "when each skill's training lapses",
        },
    }


def _settings_fields() -> dict[str, Schema]:
    fields: dict[str, Schema] = {}
    for key, default in settings_service.DEFAULTS.items():
        if key in settings_service.SECONDS_KEYS:
            fields[key] = {"type": "integer", "minimum": 0, "maximum": MAX_INTEGER}
        elif key in settings_service.COUNT_KEYS:
            low, high = settings_service.COUNT_KEYS[key]
            fields[key] = {"type": "integer", "minimum": low, "maximum": high}
        elif key == "helpline_timezone":
            fields[key] = {**STRING, "description": "an IANA zone name"}
        elif key in ("text_intake", "risk_extra_phrases"):
            fields[key] = {"anyOf": [{"const": ""}, text(1000)]}  # empty: switched off
        else:
            assert isinstance(default, str)
            fields[key] = text(1000)
    return fields


def requests() -> dict[str, Schema]:
    """What the calls accept."""
    user = _user_fields()
    occurrence = {"occurrence": TIME}
    return {
        "Credentials": obj("email", "password", email=STRING, password=STRING),
        "NewSupporter": closed(obj("email", "name", "password", **user)),
        "SupporterChanges": closed(obj(**user)),
        "Status": obj("status", status={"enum": list(users.STATUSES)}),
        "NewShift": obj(
            "supporter_id",
            "starts_at",
            "ends_at",
            supporter_id=ID,
            starts_at=TIME,
            ends_at=TIME,
            rrule={
                **null_or(STRING),
                "description": "an RFC 5545 RRULE repeating at most daily, e.g. FREQ=WEEKLY",
            },
            timezone={**STRING, "description": "an IANA zone name; UTC when absent"},
        ),
        "SettingsChanges": closed(obj(**_settings_fields())),
        "Occurrence": obj("occurrence", **occurrence),
        "MovedOccurrence": obj(
            "occurrence", "starts_at", "ends_at", **occurrence, starts_at=TIME, ends_at=TIME
        ),
        "Reply": obj("body", body=text(1600)),
        "Transfer": {
            **obj(supporter_id=ID, skill=text(40), note=null_or(text(2000, blank=True))),
            "oneOf": [{"required": ["supporter_id"]}, {"required": ["skill"]}],
        },
        "Close": obj(
            note=null_or(text(2000, blank=True)),
            outcome=null_or({**STRING, "enum": list(outcomes.OUTCOMES)}),
        ),
        "Escalate": obj(note=null_or(text(2000, blank=True))),
        "Block": obj("reason", reason=text(500), until=null_or(TIME)),
        "BlockNumber": obj(
            "number",
            "reason",
            number={
                **STRING,
                "pattern": intake.ADDRESS_PATTERN,
                "description": "E.164 (+15551234567) or whatsapp:+15551234567",
            },
            reason=text(500),
            until=null_or(TIME),
        ),
        "Note": obj("note", note=text(2000)),
        "NewCannedResponse": closed(
            obj("title", "body", title=text(canned.MAX_TITLE), body=text(canned.MAX_BODY))
        ),
        "CannedResponseChanges": closed(
            obj(title=text(canned.MAX_TITLE), body=text(canned.MAX_BODY))
        ),
        "NewProgram": closed(obj("name", **_program_fields())),
        "ProgramChanges": closed(obj(**_program_fields())),
    }


def _program_fields() -> dict[str, Schema]:
    texts = {k: text(1000) for k in settings_service.DEFAULTS if k.startswith("text_")}
    return {
        "name": text(80),
        "numbers": {"type": "array", "items": {"type": "string", "pattern": programs.NUMBER}},
        "required_skills": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "language": null_or({"type": "string", "pattern": programs.LANGUAGE}),
        "texts": closed(obj(**texts)),
        "survey_question": null_or(text(programs.MAX_SURVEY_QUESTION, blank=True)),
    }


SUPPORTER_FIELDS: dict[str, Schema] = {
    "id": ID,
    "email": STRING,
    "name": STRING,
    "role": {"enum": list(users.ROLES)},
    "skills": NAMES,
    "languages": NAMES,
    "max_conversations": {"type": "integer", "minimum": 0},
    "skill_expiry": {"type": "object", "additionalProperties": STRING},
    "timezone": STRING,
    "is_active": BOOLEAN,
    "status": {"enum": list(users.STATUSES)},
    "active_conversations": {"type": "integer", "minimum": 0},
}


def answers() -> dict[str, Schema]:
    """What the calls answer."""
    when = null_or(TIME)
    maybe_id = null_or(ID)
    return {
        "Error": obj("error", error=STRING),
        "Blocked": obj(
            "id",
            "alias",
            "address",
            "reason",
            "blocked_at",
            "until",
            id=ID,
            alias=STRING,
            address=STRING,
            reason=null_or(STRING),
            blocked_at=when,
            until=when,
            blocked_by_id=maybe_id,
        ),
        "BlockedList": page_of("Blocked"),
        "AuditEntry": obj(
            "id",
            "at",
            "action",
            id=ID,
            at=TIME,
            action=STRING,
            actor_id=maybe_id,
            conversation_id=null_or(WHOLE),
            method=null_or(STRING),
            path=null_or(STRING),
            status=null_or(WHOLE),
            remote_addr=null_or(STRING),
            detail=null_or({"type": "object"}),
        ),
        "AuditLog": page_of("AuditEntry"),
        "FailedJob": obj(
            "id",
            "queue",
            "function",
            id=STRING,
            queue=STRING,
            function=null_or(STRING),
            exception=null_or(STRING),
            message=null_or(STRING),
            failed_at=when,
        ),
        "FailedJobs": page_of("FailedJob"),
        "RetriedJob": obj("id", "queue", "status", id=STRING, queue=STRING, status=STRING),
        "RetriedAll": obj("retried", retried={"type": "integer", "minimum": 0}),
        "Health": obj("status", status={"enum": ["ok", "unavailable"]}, failing=NAMES),
        "Token": obj("token", token=STRING),
        "Supporter": obj(*SUPPORTER_FIELDS, **SUPPORTER_FIELDS),
        "Supporters": page_of("Supporter"),
        "Shift": obj(
            "id",
            "supporter_id",
            "starts_at",
            "ends_at",
            id=ID,
            supporter_id=ID,
            starts_at=TIME,
            ends_at=TIME,
            rrule=null_or(STRING),
            timezone=STRING,
        ),
        "ShiftOccurrence": obj(
            "shift_id",
            "supporter_id",
            "starts_at",
            "ends_at",
            shift_id=ID,
            supporter_id=ID,
            starts_at=TIME,
            ends_at=TIME,
        ),
        "ShiftOccurrences": page_of("ShiftOccurrence"),
        "Cancelled": obj("id", "cancelled", id=ID, cancelled={"type": "array", "items": TIME}),
        "Settings": obj(*settings_service.DEFAULTS, **_settings_fields()),
        "Program": obj(
            "id",
            "name",
            "numbers",
            "required_skills",
            "language",
            "texts",
            "survey_question",
            id=ID,
            name=STRING,
            numbers=NAMES,
            required_skills=NAMES,
            language=null_or(STRING),
            texts={"type": "object", "additionalProperties": STRING},
            survey_question=null_or(STRING),
        ),
        "Programs": page_of("Program"),
        "CannedResponse": obj(
            "id", "title", "body", "updated_at", id=ID, title=STRING, body=STRING, updated_at=TIME
        ),
        "CannedResponses": page_of("CannedResponse"),
        "QueueEntry": obj(
            "id",
            "priority",
            "waiting_since",
            "required_skills",
            id=ID,
            priority={"enum": ["normal", "urgent"]},
            waiting_since=when,
            required_skills=NAMES,
        ),
        "Queue": page_of("QueueEntry"),
        "Texter": obj(
            "alias",
            "channel",
            "opted_out",
            alias=STRING,
            channel=STRING,
            opted_out=BOOLEAN,
            address={**STRING, "description": "the texter's number: coordinators only"},
        ),
        "ConversationSummary": _conversation(when, maybe_id),
        "Conversations": page_of("ConversationSummary"),
        "Conversation": {
            "allOf": [
                ref("ConversationSummary"),
                obj(
                    "messages",
                    "events",
                    messages={"type": "array", "items": ref("Message")},
                    events={"type": "array", "items": ref("Event")},
                ),
            ]
        },
        "Message": obj(
            "id",
            "sid",
            "direction",
            "body",
            "sent_at",
            "author_id",
            "delivery_status",
            id=ID,
            sid=null_or(STRING),
            direction={"enum": ["in", "out"]},
            body=STRING,
            sent_at=TIME,
            author_id=maybe_id,
            delivery_status=STRING,
            error_code={"type": "integer"},
        ),
        "Event": obj(
            "id",
            "kind",
            "reason",
            "note",
            "actor_id",
            "supporter_id",
            "detail",
            "at",
            id=ID,
            kind=STRING,
            reason=STRING,
            note=null_or(STRING),
            actor_id=maybe_id,
            supporter_id=maybe_id,
            detail=null_or({"type": "object"}),
            at=TIME,
        ),
    }


def _conversation(when: Schema, maybe_id: Schema) -> Schema:
    return obj(
        "id",
        "status",
        "priority",
        "supporter_id",
        "offered_to_id",
        "required_skills",
        "texter",
        "waiting_since",
        "reply_window_closes_at",
        "assigned_at",
        "closed_at",
        "outcome",
        "created_at",
        id=ID,
        status={"enum": ["queued", "active", "closed"]},
        priority={"enum": ["normal", "urgent"]},
        supporter_id=maybe_id,
        offered_to_id=maybe_id,
        required_skills=NAMES,
        texter=ref("Texter"),
        waiting_since=when,
        reply_window_closes_at=when,
        assigned_at=when,
        closed_at=when,
        outcome=null_or({**STRING, "enum": list(outcomes.OUTCOMES)}),
        created_at=TIME,
    )
