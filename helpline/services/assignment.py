"""Routing passes and every change to who holds a conversation: assign, reply, close."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Select, and_, bindparam, func, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from helpline.db import is_postgresql
from helpline.models import (
    Conversation,
    ConversationEvent,
    Message,
    Texter,
    User,
    queue_rank,
)
from helpline.services import outbound, programs, snapshots, surveys
from helpline.services import settings as settings_service
from routing.channel import is_reply_window_open
from routing.model import Assign, Decision, RoutingSettings
from routing.policy import Plan, free_places, serve
from routing.schedule import anyone_on_shift, next_opening
from routing.triage import CRISIS_SKILL

log = logging.getLogger(__name__)

# One routing pass at a time across every worker: PostgreSQL advisory lock key.
ROUTING_LOCK_KEY = 0x48454C50  # "HELP"

# What a texter is told first when their conversation is routed in this pass.
NEW = "greeting"  # a conversation just opened
HANDED_OFF = "handed_off"  # a conversation just taken from its supporter


class NotOpen(Exception):
    """The conversation is closed: nothing more can be sent in it."""


class WindowClosed(NotOpen):
    """WhatsApp's 24-hour window is closed: the texter must write first."""


def lock_routing(session: Session) -> None:
    """Serialise routing passes; SQLite's BEGIN IMMEDIATE already serialises writers. Taken
    once a transaction (a drain's batch takes it before its routing pass does)."""
    if not is_postgresql(session):
        return
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(_ROUTING_LOCKED) is transaction:
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ROUTING_LOCK_KEY})
    session.info[_ROUTING_LOCKED] = session.get_transaction()


_ROUTING_LOCKED = "helpline.routing_locked"  # the transaction holding the routing lock


def route_queue(
    session: Session,
    now: datetime,
    values: dict[str, Any] | None = None,
    announce: Mapping[int, str] = {},  # noqa: B006 (read only)
) -> list[Message]:
    """Give waiting conversations to eligible supporters; return the texts this produced.

    Conversations in `announce` get one text: its opening (greeting or handed-off) joined
    with either who they are connected with or their place in line.

    The pass reads the first supporters with room in `routing.policy.supporter_order`, and
    more only when someone it left out could change a decision (then it plans again): a
    pass that places a few conversations reads a few supporters, however many are free.
    """
    values = values if values is not None else settings_service.load(session)
    routing = settings_service.routing_settings(values)
    lock_routing(session)
    grace = timedelta(seconds=routing.shift_end_grace_s)
    queue = _Queue(session)
    limit: int | None = _CANDIDATES
    including: set[int] = set()  # texters' previous supporters, read whatever their order
    while True:
        found = snapshots.candidates(session, now, grace, routing.urgent_weight, limit, including)
        plan = _plan(queue, found, announce, now, routing)
        if found.unseen_from is None:
            break
        previous = {queue.by_id[d.conversation_id].previous_supporter_id for d in plan.decisions}
        read = {s.id for s in found.supporters}
        missing = {sid for sid in previous if sid is not None} - including - read
        if plan.settled and not missing:
            break
        including |= missing
        if not plan.settled:  # read four times as many; all once the places ran out
            limit = limit * 4 if limit is not None and free_places(plan.supporters) else None
    planned = [(queue.by_id[d.conversation_id], d) for d in plan.decisions]
    return _apply_all(session, planned, announce, values, now, found.summary())


# How many supporters with room a pass reads first: more than a batch's new conversations
# usually need. It reads four times as many again whenever that was not enough.
_CANDIDATES = 16


def _plan(
    queue: _Queue,
    found: snapshots.Candidates,
    announce: Mapping[int, str],
    now: datetime,
    routing: RoutingSettings,
) -> Plan:
    """The queue planned against these candidates (`routing.policy.serve`), a page at a
    time while anyone considered still has room: past that, every conversation waits
    (required skills or a language may leave the first ones unplaceable, so a page that
    places nothing is followed by the next). Conversations to announce that the pages did
    not reach are planned last: they wait, and are told their place in line."""
    pool = found.supporters
    decisions: list[Decision] = []
    settled = True
    reached: set[int] = set()
    start = 0
    while free := free_places(pool):
        page, last = queue.page(start, max(2 * free, _PAGE))
        start += len(page)
        reached.update(c.id for c in page)
        plan = serve(
            [snapshots.conversation(c) for c in page], pool, now, routing, found.unseen_from
        )
        decisions += plan.decisions
        pool, settled = plan.supporters, settled and plan.settled
        if last:
            break
    rest = queue.read([cid for cid in announce if cid not in reached])
    if rest:
        plan = serve(
            [snapshots.conversation(c) for c in rest], pool, now, routing, found.unseen_from
        )
        decisions += plan.decisions
        pool, settled = plan.supporters, settled and plan.settled
    return Plan(decisions, pool, settled)


class _Queue:
    """The waiting conversations in queue order, read a page at a time and kept: a pass
    that plans again (having read more supporters) reads no page twice."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.rows: list[Conversation] = []  # the front of the queue, in order
        self.by_id: dict[int, Conversation] = {}  # those, and any read by id
        self._in_rows: set[int] = set()
        self._offset = 0
        self._ended = False

    def page(self, start: int, size: int) -> tuple[list[Conversation], bool]:
        """The queue's conversations from `start`, at most `size`; and whether it ends there."""
        while len(self.rows) < start + size and not self._ended:
            wanted = start + size - len(self.rows)
            page = {"offset": self._offset, "limit": wanted}
            rows = self.session.scalars(_QUEUE_PAGE, page).all()
            self._offset += len(rows)
            self._ended = len(rows) < wanted
            fresh = [c for c in rows if c.id not in self._in_rows]  # a concurrent insert moved it
            self._in_rows.update(c.id for c in fresh)
            self.by_id.update((c.id, c) for c in fresh)
            self.rows += fresh
        page = self.rows[start : start + size]
        return page, self._ended and start + size >= len(self.rows)

    def read(self, ids: list[int]) -> list[Conversation]:
        """These conversations, those still queued, wherever they are in the queue."""
        missing = [cid for cid in ids if cid not in self.by_id]
        if missing:
            found = self.session.scalars(
                select(Conversation).where(
                    Conversation.status == "queued", Conversation.id.in_(missing)
                )
            )
            self.by_id.update((c.id, c) for c in found)
        return [self.by_id[cid] for cid in ids if cid in self.by_id]


def _apply_all(
    session: Session,
    planned: list[tuple[Conversation, Decision]],
    announce: Mapping[int, str],
    values: dict[str, Any],
    now: datetime,
    summary: str | None,
) -> list[Message]:
    """Carry out a pass's decisions: the assignments first, written in one flush, then the
    conversations told they wait (their place in line counted after the assignments), in a
    second. The supporters and texters concerned are read once, not one by one."""
    assigned = [(c, d) for c, d in planned if isinstance(d, Assign)]
    told = [(c, d) for c, d in planned if not isinstance(d, Assign) and c.id in announce]
    held = [  # kept referenced, so session.get finds them while the decisions are applied
        *_read_all(session, User, {d.supporter_id for _, d in assigned}),
        *_read_all(session, Texter, {c.texter_id for c, _ in assigned + told}),
    ]
    texts: list[Message] = []
    for group in (assigned, told):
        with session.no_autoflush:
            for convo, decision in group:
                opening = announce.get(convo.id)
                texts += _apply(session, convo, decision, opening, values, now, summary)
        session.flush()
    del held
    return texts


_Row = TypeVar("_Row", User, Texter)


def _read_all(session: Session, model: type[_Row], ids: set[int]) -> list[_Row]:
    """The rows with these ids: those the session holds already (a drain's batch has read its
    texters), and the others in one statement."""
    found, missing = [], []
    for row_id in ids:
        row = session.identity_map.get(identity_key(model, row_id))
        if row is None:
            missing.append(row_id)
        else:
            found.append(row)
    if missing:
        found += session.scalars(_by_ids(model), {"ids": missing})
    return found


@cache
def _by_ids(model: type[_Row]) -> Select[tuple[_Row]]:
    """Rows of `model` by id, built once (as a send's statements, services.outbound)."""
    return select(model).where(model.id.in_(bindparam("ids", expanding=True)))


# The least number of waiting conversations read at a time in a routing pass.
_PAGE = 50


def queued_in_order() -> Select[tuple[Conversation]]:
    """Waiting conversations in `routing.policy.queue_order`'s order."""
    return (
        select(Conversation)
        .where(Conversation.status == "queued")
        .order_by(queue_rank(), Conversation.limited, Conversation.waiting_since, Conversation.id)
    )


_QUEUE_PAGE = queued_in_order().offset(bindparam("offset")).limit(bindparam("limit"))


def _apply(
    session: Session,
    convo: Conversation,
    decision: Decision,
    opening: str | None,
    values: dict[str, Any],
    now: datetime,
    summary: str | None = None,
) -> list[Message]:
    """Carry out one decision, and text the texter what it means for them."""
    values = programs.texts_for(values, convo.program)
    if isinstance(decision, Assign):
        supporter = session.get(User, decision.supporter_id)
        assert supporter is not None
        if decision.waived:
            _waive(session, convo, decision, now)
        detail = _detail(decision, summary)
        assign(session, convo, supporter, now, decision.reason, detail, flush=False)
        body = settings_service.render(values, "connected", supporter_name=first_name(supporter))
        return send(session, convo, _join(values, opening, body), now, flush=False)
    if opening is None:
        return []
    _record(session, convo, "queued", decision.reason, now, detail=_detail(decision, summary))
    body = _waiting(session, convo, now, values)
    if opening == NEW and values["text_intake"] and convo.intake_asked_at is None:
        convo.intake_asked_at = now  # asked once, with the first text, not as another one
        body += " " + str(values["text_intake"])
    return send(session, convo, _join(values, opening, body), now, flush=False)


def _waiting(session: Session, convo: Conversation, now: datetime, values: dict[str, Any]) -> str:
    """The texter's place in line, or, when nobody is on shift at all, when the line opens."""
    rules = snapshots.all_shift_rules(session)
    emergency = values["emergency_numbers"]
    if anyone_on_shift(rules, now):
        position = queue_position(session, convo)
        return settings_service.render(values, "waiting", position=position, emergency=emergency)
    opening = settings_service.opening_phrase(values, next_opening(rules, now))
    return settings_service.render(values, "out_of_hours", opening=opening, emergency=emergency)


def _waive(session: Session, convo: Conversation, decision: Assign, now: datetime) -> None:
    """The crisis fallback: record the alert for coordinators and drop the waived skills."""
    waived = sorted(decision.waived)
    convo.required_skills = [s for s in convo.required_skills if s not in decision.waived]
    _record(
        session,
        convo,
        "alert",
        f"urgent texter waited without {', '.join(waived)} help; coordinators alerted",
        now,
        detail={"waived": waived},
    )
    log.warning("crisis fallback for conversation %s: no crisis-trained supporter free", convo.id)


def _join(values: dict[str, Any], opening: str | None, body: str) -> str:
    return body if opening is None else settings_service.render(values, opening) + " " + body


def _detail(decision: Decision, summary: str | None = None) -> dict[str, Any]:
    """Why each supporter considered did not take it; the ones at their limit or off shift
    were not considered (see `snapshots.candidates`) and are counted in `not_considered`."""
    detail: dict[str, Any] = {"passed_over": {str(k): v for k, v in decision.passed_over.items()}}
    if summary:
        detail["not_considered"] = summary
    return detail


def _record(
    session: Session, convo: Conversation, kind: str, reason: str, now: datetime, **fields: Any
) -> None:
    session.add(
        ConversationEvent(
            conversation_id=convo.id, kind=kind, reason=reason, created_at=now, **fields
        )
    )


def send(
    session: Session, convo: Conversation, body: str, now: datetime, flush: bool = True
) -> list[Message]:
    """Queue a system text to the texter; nothing when they have opted out or WhatsApp's
    window is closed (Twilio would refuse it), which is recorded instead. Without `flush`
    the text has no id until the caller flushes."""
    if not is_reply_window_open(convo.channel, convo.last_inbound_at, now):
        _record(session, convo, "not_sent", "WhatsApp's 24-hour window is closed", now)
        return []
    try:
        return [outbound.queue_text(session, convo, body, now, flush=flush)]
    except outbound.OptedOut:
        return []


def assign(
    session: Session,
    convo: Conversation,
    supporter: User,
    now: datetime,
    reason: str,
    detail: dict[str, Any] | None = None,
    kind: str = "assigned",
    actor_id: int | None = None,
    note: str | None = None,
    flush: bool = True,
) -> None:
    """Hand `convo` to `supporter` and record why (written at once unless `flush` is False:
    the caller flushes)."""
    convo.status = "active"
    convo.supporter_id = supporter.id
    convo.offered_to_id = convo.offered_at = None
    convo.assigned_at = now
    convo.first_reply_at = convo.last_reply_at = convo.nudged_at = None
    convo.seen_message_id = None  # everything is new to the new holder
    convo.last_activity_at = now
    supporter.last_assigned_at = now
    _record(
        session,
        convo,
        kind,
        reason,
        now,
        supporter_id=supporter.id,
        actor_id=actor_id,
        note=note,
        detail=detail,
    )
    if flush:
        session.flush()


def requeue(
    session: Session, convo: Conversation, kind: str, reason: str, now: datetime, **fields: Any
) -> None:
    """Put `convo` back in the queue, keeping its original wait so it is served first."""
    previous = convo.supporter_id
    convo.status = "queued"
    convo.supporter_id = None
    convo.offered_to_id = convo.offered_at = None
    convo.waiting_since = convo.waiting_since or now
    _record(session, convo, kind, reason, now, supporter_id=previous, **fields)
    session.flush()


def queue_position(session: Session, convo: Conversation) -> int:
    """1 for the next conversation to be served, counting only those that go before it."""
    queued = Conversation.status == "queued"
    if convo.status != "queued" or convo.waiting_since is None:
        return (session.scalar(select(func.count()).where(queued)) or 0) + 1
    # Counted in SQL, in `routing.policy.queue_order`'s order: no row is loaded.
    rank = queue_rank()
    mine = 0 if convo.priority == "urgent" else 1
    same_limited = Conversation.limited.is_(bool(convo.limited))
    later_keys = or_(
        Conversation.waiting_since < convo.waiting_since,
        and_(Conversation.waiting_since == convo.waiting_since, Conversation.id < convo.id),
    )
    ahead = and_(same_limited, later_keys)
    if convo.limited:
        ahead = or_(Conversation.limited.is_(False), ahead)
    before = or_(rank < mine, and_(rank == mine, ahead))
    return (session.scalar(select(func.count()).where(queued, before)) or 0) + 1


def close(
    session: Session,
    convo: Conversation,
    now: datetime,
    reason: str,
    actor_id: int | None = None,
    note: str | None = None,
    notify: bool = True,
    outcome: str | None = None,
) -> list[Message]:
    """Close `convo` with its `outcome` (one of `outcomes.OUTCOMES`, or None when closed
    automatically); tell the texter, with the program's survey question, unless they opted
    out or `notify` is False."""
    convo.status = "closed"
    convo.closed_at = now
    convo.outcome = outcome
    _record(
        session,
        convo,
        "closed",
        reason,
        now,
        note=note,
        actor_id=actor_id,
        supporter_id=convo.supporter_id,
        detail={"outcome": outcome} if outcome else None,
    )
    session.flush()
    if not notify:
        return []
    values = programs.texts_for(settings_service.load(session), convo.program)
    body = settings_service.render(values, "closed")
    question = surveys.question_after(convo, now)
    texts = send(session, convo, f"{body} {question}" if question else body, now)
    if question and texts:
        convo.survey_sent_at = now
    return texts


def make_urgent(convo: Conversation, now: datetime) -> bool:
    """Urgent, and only for crisis-trained supporters; False when it was both already."""
    if convo.priority == "urgent" and CRISIS_SKILL in convo.required_skills:
        return False
    if convo.priority != "urgent":
        convo.priority = "urgent"
        convo.urgent_since = now
    if CRISIS_SKILL not in convo.required_skills:
        convo.required_skills = [*convo.required_skills, CRISIS_SKILL]
    return True


def reply(session: Session, convo: Conversation, body: str, author: User, now: datetime) -> Message:
    """A supporter's text to the texter, queued to go out after commit."""
    if convo.status != "active":
        raise NotOpen(f"the conversation is {convo.status}")
    if not is_reply_window_open(convo.channel, convo.last_inbound_at, now):
        raise WindowClosed(
            "WhatsApp's 24-hour reply window is closed: the texter has to write first"
        )
    message = outbound.queue_text(session, convo, body, now, author_id=author.id)
    if convo.first_reply_at is None:
        convo.first_reply_at = now
    convo.last_reply_at = now
    convo.last_activity_at = now
    return message


def first_name(user: User) -> str:
    return user.name.split()[0] if user.name.strip() else "A supporter"


def add_note(
    session: Session, convo: Conversation, author: User, note: str, now: datetime
) -> ConversationEvent:
    """A staff-only note on the conversation, shown to whoever holds it next."""
    event = ConversationEvent(
        conversation_id=convo.id,
        kind="note",
        reason=f"note by {author.name}",
        note=note,
        actor_id=author.id,
        created_at=now,
    )
    session.add(event)
    session.flush()
    return event
