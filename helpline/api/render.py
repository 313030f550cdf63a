"""Rows to JSON answers. Supporters never receive a texter's number."""

from __future__ import annotations

from typing import Any

from helpline import web
from helpline.models import Conversation, ConversationEvent, Message
from helpline.services.texters import alias
from routing.channel import reply_window_closes_at


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def texter(convo: Conversation, for_coordinator: bool) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "alias": alias(convo.texter_id, web.settings().secret_key),
        "channel": convo.channel,
        "opted_out": convo.texter.opted_out,
    }
    if for_coordinator:
        shown["address"] = convo.texter.address
    return shown


def conversation_summary(convo: Conversation, for_coordinator: bool) -> dict[str, Any]:
    return {
        "id": convo.id,
        "status": convo.status,
        "priority": convo.priority,
        "supporter_id": convo.supporter_id,
        "offered_to_id": convo.offered_to_id,
        "required_skills": convo.required_skills,
        "texter": texter(convo, for_coordinator),
        "waiting_since": iso(convo.waiting_since),
        "reply_window_closes_at": iso(reply_window_closes_at(convo.channel, convo.last_inbound_at)),
        "assigned_at": iso(convo.assigned_at),
        "closed_at": iso(convo.closed_at),
        "outcome": convo.outcome,
        "created_at": iso(convo.created_at),
    }


def conversation_detail(convo: Conversation, for_coordinator: bool) -> dict[str, Any]:
    return {
        **conversation_summary(convo, for_coordinator),
        "messages": [message(m) for m in convo.messages],
        "events": [event(e) for e in convo.events],
    }


def message(m: Message) -> dict[str, Any]:
    shown = {
        "id": m.id,
        "sid": m.sid,
        "direction": m.direction,
        "body": m.body,
        "sent_at": iso(m.created_at),
        "author_id": m.author_id,
        "delivery_status": m.delivery_status,
    }
    if m.error_code is not None:
        shown["error_code"] = m.error_code
    return shown


def event(e: ConversationEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "kind": e.kind,
        "reason": e.reason,
        "note": e.note,
        "actor_id": e.actor_id,
        "supporter_id": e.supporter_id,
        "detail": e.detail,
        "at": iso(e.created_at),
    }


def queue_entry(convo: Conversation) -> dict[str, Any]:
    return {
        "id": convo.id,
        "priority": convo.priority,
        "waiting_since": iso(convo.waiting_since),
        "required_skills": convo.required_skills,
    }
