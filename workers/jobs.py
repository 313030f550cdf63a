"""RQ jobs: ids in, one service call, commit, then follow-ups. No Flask here."""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq.timeouts import JobTimeoutException
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from helpline import pacing, telemetry, twilio_rest
from helpline.config import Settings
from helpline.models import utcnow
from helpline.services import (
    assignment,
    conversations,
    handoffs,
    intake,
    outbound,
    retention,
    sweeps,
)
from helpline.services import settings as settings_service
from helpline.services.outbound import OutboundText
from workers import queues, runtime

log = logging.getLogger(__name__)

# How long to let Twilio's message list catch up before asking it about an unanswered send.
RECONCILE_AFTER_S = 30
# Each pass looks back this far, and further back to where the last complete pass began (so
# hours with no worker are caught up), but never more than RECONCILE_INBOUND_LIMIT.
RECONCILE_INBOUND_WINDOW = timedelta(hours=1)
RECONCILE_INBOUND_LIMIT = timedelta(days=7)
RECONCILED_MARK = "helpline:reconciled_inbound_since"
# A text a job has just made goes to Twilio from that job when its sender's next moment is at
# most this far off; a later one goes on the outbound queue (where a job waits for it).
INLINE_WAIT_S = 0.05
# A job sends the texts it made for this long at most; the rest go on the outbound queue, where
# every worker takes a share: when Twilio answers slowly, one job does not send them one by one.
# They go as many to a job as this one sent in its time (one when Twilio is slow), at most
# SPILL_PER_JOB.
INLINE_BUDGET_S = 0.1
SPILL_PER_JOB = 10
# A run claims its texts a few at a time, in one statement, and records what Twilio answered
# for them with the next claim (a transaction a text cost more than the send): a worker killed
# mid-run leaves at most this many texts claimed whose outcome it never heard (each is
# reconciled). It claims one text first, then as many as it has sent so far, up to this: a run
# Twilio keeps waiting ends after its first text, holding no claim it will not try.
CLAIM_AHEAD = 5


def process_inbound(message_id: int) -> None:
    """Attach a stored inbound text to its conversation, route, and send what that produced."""
    with runtime.transaction() as session:
        texts = outbound.made(conversations.handle_inbound(session, message_id, utcnow()))
    send_made(texts)


def drain_inbound(shard: int) -> None:
    """Process the texts waiting on one shard's list, a batch per transaction, until it is
    empty or the drain's time is up with texts still waiting (then a fresh job takes over,
    keeping the lease).

    A batch that fails goes on text by text, each a job of its own with its retries, so one
    text that cannot be processed holds up no other; when the database cannot be reached the
    batch goes back on the list and the drain itself is retried later.

    Drains run one at a time, so a batch's texts (greetings, places in line) are not sent
    while the drain holds the list: with texts waiting they go on the outbound queue for
    another worker, and the last batch's are sent once the drain has given the list up, when
    a text arriving meanwhile asks for a drain of its own, which another worker takes.
    """
    redis = runtime.redis()
    began = time.monotonic()
    unsent: list[OutboundText] = []  # the last batch's texts, if nothing waited after it
    while batch := queues.take_inbound(redis, shard):
        _spill(redis, unsent)  # more came after all
        unsent = []
        log.info("processing texts %s", ", ".join(map(str, batch)))  # a text can be followed
        try:
            with runtime.transaction() as session:
                texts = outbound.made(conversations.handle_inbound_batch(session, batch, utcnow()))
        except (JobTimeoutException, OperationalError):
            queues.put_back(redis, shard, batch)
            raise
        except Exception:
            log.exception("a batch of %d texts failed; each goes on alone", len(batch))
            for message_id in batch:
                queues.process_inbound(redis, message_id, attempt="-alone")
            continue
        if not redis.llen(queues.inbound_list(shard)):
            unsent = texts  # sent when the list is given up, unless more come first
            continue
        _spill(redis, texts)
        if time.monotonic() - began > queues.DRAIN_BUDGET_S:
            queues.drain(redis, shard)  # the lease goes with it
            return
    if unsent:  # the list was empty and the lease is given up
        send_made(unsent)


def _spill(redis: Redis, texts: list[OutboundText]) -> None:
    """Texts a drain made, on the outbound queue for any worker to send, a few to a job."""
    if texts:
        queues.send_texts(redis, [t.message_id for t in texts], per_job=SPILL_PER_JOB)


def drain_outbound() -> None:
    """Send the texts waiting on the outbound list, a run of sends (`send_made`) at a time,
    until it is empty or the drain's time is up with texts still waiting (then a fresh job
    takes over, keeping the lease). What a run could not send in its time goes on to RQ jobs,
    which every worker shares."""
    redis = runtime.redis()
    began = time.monotonic()
    while texts := queues.take_outbound(redis):
        log.info("sending texts %s", ", ".join(map(str, texts)))  # a text can be followed
        send_made(texts)
        if time.monotonic() - began > queues.DRAIN_BUDGET_S and queues.outbound_waiting(redis):
            queues.drain_sends(redis)  # the lease goes with it
            return


def route_queue() -> None:
    """Give waiting conversations to whoever is free now."""
    with runtime.transaction() as session:
        texts = outbound.made(assignment.route_queue(session, utcnow()))
    send_made(texts)


def apply_handoff_rules() -> None:
    """Hand on or close whatever the rules say is due (shift end, offline, no reply, quiet),
    then route."""
    with runtime.transaction() as session:
        texts = outbound.made(handoffs.run_handoffs(session, utcnow()))
    send_made(texts)


def send_text(message_id: int) -> None:
    """Hand one pending text to Twilio, once, at its sender's pace; raise on a passing failure
    so RQ retries it (backing off with jitter)."""
    stopped = _send([message_id], pacing.MAX_WAIT_S)
    if stopped is not None and stopped.transient and stopped.error is not None:
        raise stopped.error


def send_made(texts: Sequence[int] | Sequence[OutboundText]) -> None:
    """Hand the texts this job has just made to Twilio from this job, not a job each: RQ's
    own work for a job cost more than the send. `texts` are their ids (the arguments of a
    job taking its share of another's), or the texts as the job that made them has them,
    which are not read again before they are claimed.

    A text its sender's pace holds back goes on the outbound queue as its own job, and so do
    the texts still unsent after INLINE_BUDGET_S (Twilio answering slowly). After a failure
    (Twilio refusing for a passing reason, or not answering), the failed text is retried
    later by a job of its own, or reconciled, and the rest go on the queue: a job that makes
    texts never waits on more than one of Twilio's timeouts.
    """
    redis = runtime.redis()
    made = {t.message_id: t for t in texts if isinstance(t, OutboundText)}
    message_ids = [t if isinstance(t, int) else t.message_id for t in texts]
    try:
        stopped = _send(message_ids, INLINE_WAIT_S, time.monotonic() + INLINE_BUDGET_S, made)
    except Exception as exc:
        # The database or Redis failed around the sends: whatever is still unclaimed goes
        # out from a job of its own (a claimed text is the sweep's to reconcile).
        log.warning("%d texts: sending failed (%s); each goes on the queue", len(message_ids), exc)
        queues.send_texts(redis, message_ids)
        if isinstance(exc, JobTimeoutException):
            raise
        return
    if stopped is None:
        return
    if stopped.failed is not None and stopped.transient:
        log.warning("text %s: %s; retried later", stopped.failed, stopped.error)
        queues.retry_send(redis, stopped.failed)
    # every worker can take a share of them
    queues.send_texts(redis, stopped.rest, per_job=min(max(stopped.sent, 1), SPILL_PER_JOB))


# What Twilio answered for a text.
Answer = tuple[OutboundText, outbound.Sent | outbound.Refused]


@dataclass(frozen=True)
class Stopped:
    """A run of sends that ended before its last text: at a text Twilio failed, or when the
    run's time was up."""

    rest: list[int]  # the texts after it: not tried (nor claimed)
    failed: int | None = None  # the text Twilio failed
    transient: bool = False  # it may simply be tried again; otherwise it may have gone
    error: Exception | None = None
    sent: int = 0  # how many went before it stopped


def _send(
    message_ids: list[int],
    patience_s: float,
    deadline: float | None = None,
    made: Mapping[int, OutboundText] = {},  # noqa: B006 (read only)
) -> Stopped | None:
    """Send these texts in order, each at its sender's pace (one whose moment is more than
    `patience_s` away goes back on the queue for it). Texts are claimed a few at a time
    (CLAIM_AHEAD), in the transaction that records what Twilio answered for the ones before.
    Stops at the first text Twilio fails; that one is unclaimed again, unless its outcome is
    unknown (it is reconciled). Past `deadline` (time.monotonic()) it stops before the next
    text. Claimed texts it did not try are unclaimed again however it stops. Texts in `made`
    are not read to be paced (the claim finds out whether another sender has them)."""
    settings = runtime.settings()
    with runtime.transaction() as session:
        turns = _turns(session, message_ids, settings, patience_s, made)
        order = list(turns)
        ready = _by_id(outbound.claim_sends(session, order[:1], utcnow()))
    claimed_up_to = 1  # texts of `order` before this index have been claimed (or tried to be)
    answers: list[Answer] = []  # Twilio's, recorded with the next claim or when the run ends
    attempts: Counter[str] = Counter()  # counted once, when the run ends
    try:
        for done, message_id in enumerate(order):
            if done and deadline is not None and time.monotonic() > deadline:
                return Stopped(order[done:], sent=done)
            if done == claimed_up_to:  # as many as the run has sent so far, up to CLAIM_AHEAD
                claimed_up_to = done + min(done, CLAIM_AHEAD)
                with runtime.transaction() as session:
                    _record(session, answers, attempts)
                    ready = _by_id(
                        outbound.claim_sends(session, order[done:claimed_up_to], utcnow())
                    )
                answers = []
            text = ready.get(message_id)
            if text is None:  # sent, refused or claimed elsewhere meanwhile
                continue
            turn = turns[message_id]
            if turn.slot is not None:
                time.sleep(pacing.gate(runtime.redis(), text.from_, turn.cost_ms, turn.slot))
            del ready[message_id]
            try:
                answers.append((text, twilio_rest.send(runtime.twilio(), settings, text)))
            except twilio_rest.TransientSendError as exc:
                ready[message_id] = text  # Twilio never took it
                attempts["retry"] += 1
                return Stopped(order[done + 1 :], message_id, True, exc)
            except twilio_rest.SendOutcomeUnknown as exc:
                log.warning(
                    "text %s: no answer from Twilio; reconciling before any resend", message_id
                )
                attempts["unknown"] += 1
                queues.reconcile_send(runtime.redis(), message_id, delay_s=RECONCILE_AFTER_S)
                return Stopped(order[done + 1 :], message_id, False, exc)
        return None
    finally:
        _end_run(answers, list(ready), attempts)


def _by_id(texts: list[OutboundText]) -> dict[int, OutboundText]:
    return {text.message_id: text for text in texts}


def _end_run(answers: list[Answer], claimed: list[int], attempts: Counter[str]) -> None:
    """However a run of sends ends, Twilio's last answers are kept, claimed texts it never
    handed to Twilio are let go, and the attempts are counted."""
    if answers or claimed:
        with runtime.transaction() as session:
            _record(session, answers, attempts)
            outbound.release_claims(session, claimed)
    with runtime.redis().pipeline(transaction=False) as pipe:
        for result, times in attempts.items():
            telemetry.count(pipe, telemetry.SEND_ATTEMPTS, by=times, result=result)
        telemetry.flush(pipe)


def _record(session: Session, answers: list[Answer], attempts: Counter[str]) -> None:
    outbound.record_outcomes(session, answers)
    for text, result in answers:
        if isinstance(result, outbound.Refused):
            log.info("text %s refused by Twilio: %s", text.message_id, result.error_code)
            attempts["refused"] += 1
        else:
            attempts["recorded" if result.status == "recorded" else "sent"] += 1


@dataclass(frozen=True)
class Turn:
    cost_ms: int = 0
    slot: pacing.Slot | None = None  # None in dev mode: nothing leaves, nothing to pace


def _turns(
    session: Session,
    message_ids: list[int],
    settings: Settings,
    patience_s: float,
    made: Mapping[int, OutboundText],
) -> dict[int, Turn]:
    """Each text's cost and planned moment at its sender's rate, in order, for those that go
    now; one not yet due is put back on the queue for its moment, one another job has is left
    out. Read before the claim, in its transaction: a text waiting for its moment is not
    claimed."""
    if runtime.twilio() is None:
        return dict.fromkeys(message_ids, Turn())
    redis = runtime.redis()
    turns = {}
    if all(i in made for i in message_ids):
        texts = [made[i] for i in message_ids]
    else:
        texts = outbound.unsent(session, message_ids)
    costs = [pacing.send_cost_ms(t.from_, t.body, settings.send_rates) for t in texts]
    planned = [(t.from_, t.message_id, cost) for t, cost in zip(texts, costs, strict=True)]
    slots = pacing.reserve(redis, planned, patience_s) if planned else []
    for text, cost_ms, slot in zip(texts, costs, slots, strict=True):
        if slot.near:
            turns[text.message_id] = Turn(cost_ms, slot)
            continue
        if slot.wait_s <= pacing.MAX_WAIT_S:  # a job waits for it on the outbound queue
            queues.send_text(redis, text.message_id)
        else:
            queues.send_text_at(redis, text.message_id, slot.at_ms, slot.come_back_in_s)
        sender = pacing.sender_type(text.from_)
        telemetry.count(redis, telemetry.SENDS_DEFERRED, sender_type=sender)
    return turns


def reconcile_send(message_id: int) -> None:
    """Ask Twilio whether a text with an unknown outcome was created: record it, or send it."""
    client = runtime.twilio()
    with runtime.transaction() as session:
        pending = outbound.claimed(session, message_id)
    if pending is None or client is None:
        return
    text, claimed_at = pending
    candidates = twilio_rest.find_sent(client, text, claimed_at)
    with runtime.transaction() as session:
        recorded = outbound.recorded_sids(session, [c.sid for c in candidates])
        found = next((c for c in candidates if c.sid not in recorded), None)
        if found is not None:
            outbound.record_outcomes(session, [(text, found)])
        else:
            outbound.release_claims(session, [message_id])
    if found is None:
        queues.send_text(runtime.redis(), message_id, attempt=f"-after-{uuid.uuid4().hex[:8]}")


def reconcile_inbound() -> None:
    """Ingest texts Twilio received whose webhook never reached us: those of the last hour,
    and of any stretch since the last complete pass (the workers were down), up to a week."""
    client = runtime.twilio()
    if client is None:
        return
    redis = runtime.redis()
    started = utcnow()
    mark = redis.get(RECONCILED_MARK)
    last = datetime.fromtimestamp(float(mark), UTC) if mark else None
    received = twilio_rest.received_since(client, reconcile_since(started, last))
    with runtime.transaction() as session:
        stored = intake.store_missing(session, received, utcnow())
    for message_id in stored:
        queues.process_inbound(redis, message_id)
    redis.set(RECONCILED_MARK, str(started.timestamp()))


def reconcile_since(now: datetime, last_pass: datetime | None) -> datetime:
    """Where a reconciliation pass starts looking: an hour back, or back to where the last
    complete pass began when that is earlier, but never more than a week."""
    since = now - RECONCILE_INBOUND_WINDOW
    if last_pass is not None:
        since = min(since, last_pass)
    return max(since, now - RECONCILE_INBOUND_LIMIT)


def purge() -> None:
    """The retention purge, batch by batch, each batch its own transaction."""
    while True:
        with runtime.transaction() as session:
            retention_s = int(settings_service.load(session)["retention_s"])
            purged = retention.purge(session, utcnow(), retention_s)
        if purged.conversations or purged.messages or purged.texters:
            log.info(
                "purged %d conversations, %d texts, %d texters",
                purged.conversations,
                purged.messages,
                purged.texters,
            )
        if not purged.more:
            return


def tick() -> None:
    """The periodic backstop: re-queue stranded work, then run a routing pass."""
    now = utcnow()
    redis = runtime.redis()
    with runtime.transaction() as session:
        stranded = sweeps.stranded(session, now - timedelta(seconds=sweeps.STRANDED_AFTER_S))
    slot = f"-sweep-{int(now.timestamp()) // sweeps.STRANDED_AFTER_S}"
    for message_id in stranded.inbound:
        queues.process_inbound(redis, message_id, attempt=slot)
    for message_id in stranded.outbound:
        queues.send_text(redis, message_id, attempt=slot)
    for message_id in stranded.unresolved:
        queues.reconcile_send(redis, message_id, attempt=slot)
    for shard in queues.restart_drains(redis):
        log.warning("inbound shard %s had texts and no drain at work: drain restarted", shard)
    if queues.restart_send_drain(redis):
        log.warning("texts to send waited with no send drain at work: drain restarted")
    apply_handoff_rules()
