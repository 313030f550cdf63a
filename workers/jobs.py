"""RQ jobs: ids in, one service call, commit, then follow-ups. No Flask here."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from helpline import twilio_rest
from helpline.db import transaction
from helpline.models import utcnow
from helpline.services import assignment, conversations, handoffs, intake, outbound, sweeps
from workers import queues, runtime

log = logging.getLogger(__name__)

# How long to let Twilio's message list catch up before asking it about an unanswered send.
RECONCILE_AFTER_S = 30
RECONCILE_INBOUND_WINDOW = timedelta(hours=1)


def process_inbound(message_id: int) -> None:
    """Attach a stored inbound text to its conversation, route, and send what that produced."""
    with transaction(runtime.settings().database_url) as session:
        texts = conversations.handle_inbound(session, message_id, utcnow())
    queues.send_texts(runtime.redis(), texts)


def route_queue() -> None:
    """Give waiting conversations to whoever is free now."""
    with transaction(runtime.settings().database_url) as session:
        texts = [m.id for m in assignment.route_queue(session, utcnow())]
    queues.send_texts(runtime.redis(), texts)


def apply_handoff_rules() -> None:
    """Hand on or close whatever the rules say is due (shift end, offline, no reply, quiet),
    then route."""
    with transaction(runtime.settings().database_url) as session:
        texts = [m.id for m in handoffs.run_handoffs(session, utcnow())]
    queues.send_texts(runtime.redis(), texts)


def send_text(message_id: int) -> None:
    """Hand one pending text to Twilio, once; raise on a passing failure so RQ retries."""
    settings = runtime.settings()
    with transaction(settings.database_url) as session:
        text = outbound.claim_send(session, message_id, utcnow())
    if text is None:
        return
    try:
        result = twilio_rest.send(runtime.twilio(), settings, text)
    except twilio_rest.TransientSendError:
        with transaction(settings.database_url) as session:
            outbound.release_claim(session, message_id)
        raise
    except twilio_rest.SendOutcomeUnknown:
        log.warning("text %s: no answer from Twilio; reconciling before any resend", message_id)
        queues.reconcile_send(runtime.redis(), message_id, delay_s=RECONCILE_AFTER_S)
        return
    with transaction(settings.database_url) as session:
        if isinstance(result, twilio_rest.Sent):
            outbound.record_sent(session, message_id, result.sid, result.status)
        else:
            log.info("text %s refused by Twilio: %s", message_id, result.error_code)
            outbound.record_refused(session, message_id, result.error_code)


def reconcile_send(message_id: int) -> None:
    """Ask Twilio whether a text with an unknown outcome was created: record it, or send it."""
    settings = runtime.settings()
    client = runtime.twilio()
    with transaction(settings.database_url) as session:
        pending = outbound.claimed(session, message_id)
    if pending is None or client is None:
        return
    text, claimed_at = pending
    candidates = twilio_rest.find_sent(client, text, claimed_at)
    with transaction(settings.database_url) as session:
        recorded = outbound.recorded_sids(session, [c.sid for c in candidates])
        found = next((c for c in candidates if c.sid not in recorded), None)
        if found is not None:
            outbound.record_sent(session, message_id, found.sid, found.status)
        else:
            outbound.release_claim(session, message_id)
    if found is None:
        queues.send_text(runtime.redis(), message_id, attempt=f"-after-{uuid.uuid4().hex[:8]}")


def reconcile_inbound() -> None:
    """Ingest texts Twilio received in the last hour whose webhook never reached us."""
    client = runtime.twilio()
    if client is None:
        return
    received = twilio_rest.received_since(client, utcnow() - RECONCILE_INBOUND_WINDOW)
    with transaction(runtime.settings().database_url) as session:
        stored = intake.store_missing(session, received, utcnow())
    for message_id in stored:
        queues.process_inbound(runtime.redis(), message_id)


def tick() -> None:
    """The periodic backstop: re-queue stranded work, then run a routing pass."""
    now = utcnow()
    redis = runtime.redis()
    with transaction(runtime.settings().database_url) as session:
        stranded = sweeps.stranded(session, now - timedelta(seconds=sweeps.STRANDED_AFTER_S))
    slot = f"-sweep-{int(now.timestamp()) // sweeps.STRANDED_AFTER_S}"
    for message_id in stranded.inbound:
        queues.process_inbound(redis, message_id, attempt=slot)
    for message_id in stranded.outbound:
        queues.send_text(redis, message_id, attempt=slot)
    for message_id in stranded.unresolved:
        queues.reconcile_send(redis, message_id)
    apply_handoff_rules()
