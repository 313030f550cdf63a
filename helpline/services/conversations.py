"""An inbound text becomes part of a conversation: opt-out words, opening, triage, routing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from helpline.db import insert_ignoring_conflicts, is_postgresql
from helpline.models import (
    OPEN_STATUSES,
    Conversation,
    ConversationEvent,
    Message,
    Program,
    Texter,
)
from helpline.services import (
    assignment,
    blocking,
    erasure,
    flood,
    handoffs,
    keywords,
    programs,
    surveys,
)
from helpline.services import settings as settings_service
from routing.triage import assess, is_urgent_answer, rule_set


def handle_inbound(session: Session, message_id: int, now: datetime) -> list[Message]:
    """Process a stored inbound text (and any earlier one from the same texter), then route.

    Returns the texts to send once the transaction commits. Running it twice for the same
    message does nothing the second time.
    """
    return handle_inbound_batch(session, [message_id], now)


def handle_inbound_batch(session: Session, message_ids: list[int], now: datetime) -> list[Message]:
    """`handle_inbound` for many texts at once, with one routing pass for them all.

    Locks are taken in one order: routing first (a routing pass holding it may be about to
    update the very conversations this batch touches), then texters in the order of their
    key, so a batch never waits in a circle with a routing pass or with another batch. The
    texts are then taken in the order they came, so the batch's new conversations queue in
    the order their texters wrote.
    """
    messages = sorted(session.scalars(_UNPROCESSED, {"ids": message_ids}), key=lambda m: m.id)
    if messages:
        assignment.lock_routing(session)
    values = settings_service.load(session)
    batch = _Batch.read(session, messages, now)
    announce: dict[Conversation, str] = {}
    texts: list[Message] = []
    route = False
    for message in messages:
        if message.processed_at is not None:  # processed already, here or by an earlier text
            continue
        outcome = _receive_texts(session, batch, message, now, values)
        announce.update(outcome.announce)
        texts.extend(outcome.texts)
        route = route or outcome.route
    if route:
        session.flush()  # the batch's new conversations, written together: their ids
        told = {convo.id: kind for convo, kind in announce.items()}
        texts.extend(assignment.route_queue(session, now, values, told))
    return texts


# A batch's reads, built once (as a send's statements, helpline.services.outbound).
_UNPROCESSED = select(Message).where(
    Message.id.in_(bindparam("ids", expanding=True)),
    Message.direction == "in",
    Message.processed_at.is_(None),
)
_TEXTERS = (
    select(Texter)
    .where(Texter.address_key.in_(bindparam("keys", expanding=True)))
    .order_by(Texter.address_key)
)
_TEXTERS_LOCKED = _TEXTERS.with_for_update()
_PENDING = (
    select(Message)
    .where(
        Message.texter_key.in_(bindparam("keys", expanding=True)),
        Message.direction == "in",
        Message.processed_at.is_(None),
        Message.id <= bindparam("up_to"),
    )
    .order_by(Message.id)
)
_OPEN = select(Conversation).where(
    Conversation.texter_id.in_(bindparam("ids", expanding=True)),
    Conversation.status.in_(OPEN_STATUSES),
)


@cache
def _new_texters(postgresql: bool) -> ReturningInsert[tuple[str]]:
    """The texters a batch meets, inserted unless known; the keys of those it created."""
    insert = insert_ignoring_conflicts(postgresql, Texter.__table__, ["address_key"])
    return insert.returning(Texter.__table__.c.address_key)


@dataclass
class _Batch:
    """What a batch reads once for all its texters, not once for each text: their rows,
    locked; their unprocessed texts; their open conversations, kept as the batch opens and
    closes them; the programs of the numbers they wrote to."""

    texters: dict[str, Texter]  # by address key
    first_seen: set[str]  # keys of texters this batch created: they never had a conversation
    pending: dict[str, list[Message]]  # unprocessed inbound texts, by texter key, in order
    open: dict[int, Conversation | None]  # by texter id; a texter missing here is looked up
    program_of: dict[str, Program | None] = field(default_factory=dict)  # by number

    @classmethod
    def read(cls, session: Session, messages: list[Message], now: datetime) -> _Batch:
        if not messages:
            return cls({}, set(), {}, {})
        addresses = {m.texter_key: m.from_address for m in messages}
        rows = [
            {"address": a, "address_key": k, "opted_out": False, "created_at": now}
            for k, a in sorted(addresses.items())
        ]
        postgresql = is_postgresql(session)
        # The rows to one statement built once: SQLAlchemy writes them into one INSERT
        # (insertmanyvalues) and keeps its compiled form.
        created = session.connection().execute(_new_texters(postgresql), rows).scalars()
        first_seen = set(created)
        # Locked in the order of their keys, as every batch locks them (after routing's lock).
        locking = _TEXTERS_LOCKED if postgresql else _TEXTERS
        keys = {"keys": list(addresses)}
        texters = {t.address_key: t for t in session.scalars(locking, keys)}
        pending: dict[str, list[Message]] = {}
        up_to = max(m.id for m in messages)
        for message in session.scalars(_PENDING, keys | {"up_to": up_to}):
            pending.setdefault(message.texter_key, []).append(message)
        opened: dict[int, Conversation | None] = {t.id: None for t in texters.values()}
        # A texter this batch created has no conversation yet: only the others are looked up.
        known = [t.id for key, t in texters.items() if key not in first_seen]
        for convo in session.scalars(_OPEN, {"ids": known}) if known else ():
            opened[convo.texter_id] = convo
        return cls(texters, first_seen, pending, opened)

    def open_conversation(self, session: Session, texter: Texter) -> Conversation | None:
        if texter.id not in self.open:
            self.open[texter.id] = open_conversation(session, texter.id)
        return self.open[texter.id]

    def program_for(self, session: Session, number: str) -> Program | None:
        if number not in self.program_of:
            with session.no_autoflush:  # the batch's changes are written together, later
                self.program_of[number] = programs.program_for(session, number)
        return self.program_of[number]


@dataclass
class _Received:
    texts: list[Message] = field(default_factory=list)  # to send once committed
    announce: dict[Conversation, str] = field(default_factory=dict)  # what to tell each
    route: bool = True  # whether a routing pass should follow


def _receive_texts(
    session: Session, batch: _Batch, message: Message, now: datetime, values: dict[str, Any]
) -> _Received:
    """Attach one texter's unprocessed texts, up to this one, to their conversation."""
    texter = batch.texters[message.texter_key]
    found = _Received()
    convo = None
    # The texter's row lock orders their texts: earlier unprocessed ones go first.
    for pending in batch.pending.get(message.texter_key, []):
        if pending.id > message.id:
            break
        if pending.processed_at is not None:
            continue
        if keywords.is_erase(pending.body) and not texter.opted_out:
            open_now = batch.open_conversation(session, texter)
            request = erasure.receive(session, texter, pending, open_now, now, values)
            batch.open.pop(texter.id, None)  # looked up again if needed
            found.texts.extend(request.texts)
            if request.erased:  # every later text of theirs went with them
                batch.pending.pop(texter.address_key, None)
                convo = None
                break
            continue
        convo, is_new = _receive(session, batch, texter, pending, now, values)
        if convo is None:
            continue
        if is_new:
            found.announce[convo] = assignment.NEW
            first = texter.address_key in batch.first_seen  # this is their only opening
            batch.first_seen.discard(texter.address_key)
            flood.apply_opening_policy(session, texter, convo, now, values, 1 if first else None)
        else:
            _record_intake_answer(session, convo, pending, now, values)
        if _escalate(session, convo, pending, now, values) and handoffs.move_if_unqualified(
            session, convo, now, values
        ):
            found.announce[convo] = assignment.HANDED_OFF
    if (
        convo is not None
        and not found.announce
        and flood.is_flooding(session, texter, convo, now, values)
    ):
        found.route = False  # the periodic tick routes, not one pass per text
    return found


def _receive(
    session: Session,
    batch: _Batch,
    texter: Texter,
    message: Message,
    now: datetime,
    values: dict[str, Any],
) -> tuple[Conversation | None, bool]:
    """Attach one text to the texter's open conversation, opening (or reopening) one if needed."""
    message.processed_at = now
    convo = batch.open_conversation(session, texter)
    if keywords.is_opt_out(message.body):
        _opt_out(session, texter, convo, now)
        batch.open[texter.id] = None
        message.conversation_id = convo.id if convo else None
        return None, False
    if texter.opted_out and keywords.is_opt_in(message.body):
        # Twilio confirms the opt-in itself; the keyword alone opens no conversation.
        texter.opted_out = False
        texter.opted_out_at = None
        return None, False
    if texter.opted_out:
        # Twilio would refuse anything we sent; the text is kept but opens nothing.
        return None, False
    if blocking.is_blocked(texter, now):
        return None, False  # kept, unanswered; coordinators see it in the texter's record
    if convo is None and surveys.capture(session, texter, message, now):
        return None, False  # an answer to the survey, kept with the conversation it answers
    is_new = convo is None
    if convo is None:
        window = timedelta(seconds=int(values["return_window_s"]))
        earlier = texter.address_key not in batch.first_seen
        reopened = _reopen(session, texter, now, window) if earlier else None
        program = batch.program_for(session, message.to_address)
        convo = reopened or _open(session, texter, message, now, program)
        batch.open[texter.id] = convo
    message.conversation = convo  # it may have no id until the batch's flush
    convo.last_inbound_at = now
    convo.last_activity_at = now
    return convo, is_new


def open_conversation(session: Session, texter_id: int) -> Conversation | None:
    return session.scalar(
        select(Conversation).where(
            Conversation.texter_id == texter_id, Conversation.status.in_(OPEN_STATUSES)
        )
    )


def _open(
    session: Session, texter: Texter, message: Message, now: datetime, program: Program | None
) -> Conversation:
    convo = Conversation(
        texter_id=texter.id,
        status="queued",
        priority="normal",
        program_id=program.id if program else None,
        required_skills=list(program.required_skills) if program else [],
        language=program.language if program else None,
        excluded_supporter_ids=[],
        channel="whatsapp" if message.from_address.startswith("whatsapp:") else "sms",
        helpline_number=message.to_address,
        waiting_since=now,
        last_inbound_at=now,
        last_activity_at=now,
        created_at=now,
    )
    session.add(convo)
    # Not flushed here: a batch's new conversations, their events and their texts' links are
    # written together when the routing pass needs them (one insert for many, not one each).
    _event(session, convo, "opened", "first text from texter", now)
    return convo


def _reopen(
    session: Session, texter: Texter, now: datetime, window: timedelta
) -> Conversation | None:
    """The texter's last conversation, back in the queue, if it closed within `window`."""
    last = session.scalar(
        select(Conversation)
        .where(
            Conversation.texter_id == texter.id,
            Conversation.status == "closed",
            Conversation.closed_at >= now - window,
        )
        .order_by(Conversation.closed_at.desc())
        .limit(1)
    )
    if last is None:
        return None
    last.previous_supporter_id = last.supporter_id
    last.supporter_id = None
    last.status = "queued"
    last.waiting_since = now
    last.closed_at = None
    last.outcome = last.survey_sent_at = None  # set again when it closes again
    last.excluded_supporter_ids = []
    session.flush()
    _event(
        session,
        last,
        "reopened",
        "texter wrote again within the return window",
        now,
        supporter_id=last.previous_supporter_id,
    )
    return last


def _escalate(
    session: Session, convo: Conversation, message: Message, now: datetime, values: dict[str, Any]
) -> bool:
    """Make the conversation urgent and crisis-only when the text shows risk of harm."""
    if convo.priority == "urgent":
        return False
    risk = assess(message.body, rule_set(settings_service.risk_phrases(values)))
    if risk is None:
        return False
    assignment.make_urgent(convo, now)
    _event(
        session,
        convo,
        "triaged",
        f"risk of harm ({risk.category}): \u201c{risk.matched}\u201d",
        now,
        detail={"category": risk.category},
    )
    return True


def _record_intake_answer(
    session: Session, convo: Conversation, message: Message, now: datetime, values: dict[str, Any]
) -> None:
    """The first text after the intake question is its answer; a worrying one ("2", "no" to
    "are you safe?") makes the conversation urgent."""
    if convo.intake_asked_at is None or convo.intake_answer is not None:
        return
    convo.intake_answer = message.body[:160]
    answers = str(values["intake_urgent_answers"]).split(",")
    if convo.priority == "urgent" or not is_urgent_answer(message.body, answers):
        return
    assignment.make_urgent(convo, now)
    _event(
        session,
        convo,
        "triaged",
        f"intake answer: \u201c{message.body[:40]}\u201d",
        now,
        detail={"category": "intake"},
    )


def _event(
    session: Session, convo: Conversation, kind: str, reason: str, now: datetime, **fields: Any
) -> None:
    # Through the relationship: a conversation opened in this batch has no id before the flush.
    session.add(
        ConversationEvent(conversation=convo, kind=kind, reason=reason, created_at=now, **fields)
    )


def _opt_out(session: Session, texter: Texter, convo: Conversation | None, now: datetime) -> None:
    texter.opted_out = True
    texter.opted_out_at = now
    # Texts queued but not yet handed to Twilio must never go out now.
    for pending in session.scalars(
        select(Message).where(
            Message.texter_key == texter.address_key,
            Message.direction == "out",
            Message.delivery_status == "pending",
            Message.send_claimed_at.is_(None),
        )
    ):
        pending.delivery_status = "canceled"
        pending.error_code = 21610
    if convo is not None:
        assignment.close(session, convo, now, reason="texter opted out (STOP)", notify=False)
