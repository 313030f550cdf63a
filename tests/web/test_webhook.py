"""The inbound webhook: signed, idempotent, durable, and never a 500."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from helpline import db, vault
from helpline.models import Message
from helpline.services import intake
from tests.processes import wait_until
from tests.support import Helpline, message_sid, texter_number
from workers import queues


def count_messages(helpline: Helpline) -> int:
    helpline.look_again()
    return helpline.db.scalar(select(func.count()).select_from(Message)) or 0


def test_valid_text_is_stored_and_answered_with_empty_twiml(helpline: Helpline) -> None:
    """A signed text gets 200 with an empty TwiML document and is stored before the answer."""
    answer = helpline.text_in("hello, is anyone there?")
    assert answer.status_code == 200
    assert answer.mimetype == "text/xml"
    assert answer.get_data(as_text=True).endswith("<Response/>")
    stored = helpline.db.scalars(select(Message)).one()
    assert stored.body == "hello, is anyone there?"
    assert stored.direction == "in"


def test_a_text_is_answered_with_the_headers_every_answer_carries(helpline: Helpline) -> None:
    """Texts Twilio delivers are answered in front of Flask (webhooks.InboundTexts): the
    answer is still the app's, security headers and request id included."""
    answer = helpline.text_in("hello")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert len(answer.headers["X-Request-ID"]) == 32
    assert int(answer.headers["Content-Length"]) == len(answer.get_data())


def test_a_text_with_a_cookie_goes_through_the_view_and_is_stored(helpline: Helpline) -> None:
    helpline.client.set_cookie("unrelated", "1")
    assert helpline.text_in("with a cookie").status_code == 200
    assert count_messages(helpline) == 1


def test_a_failed_store_is_answered_503_by_the_view_without_a_second_try(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[int] = []

    def failing(db: object, received: list[object], *_: object) -> list[int]:
        tries.append(len(received))
        raise OperationalError("INSERT", {}, Exception("database is down"))

    monkeypatch.setattr(intake, "store_all", failing)
    answer = helpline.text_in("are you there")
    assert answer.status_code == 503
    assert answer.get_data(as_text=True) == "database unavailable\n"
    assert tries == [1]


def test_unsigned_text_is_refused_and_not_stored(helpline: Helpline) -> None:
    answer = helpline.client.post(
        "/twilio/messages",
        data={"MessageSid": message_sid(), "From": "+15550001", "To": "+1555", "Body": "hi"},
    )
    assert answer.status_code == 403
    assert count_messages(helpline) == 0


@pytest.mark.parametrize("signature", ["bm90IGEgc2lnbmF0dXJl", "s\u00efgn\u00e9"])
def test_wrongly_signed_text_is_refused_and_not_stored(helpline: Helpline, signature: str) -> None:
    form = {"MessageSid": message_sid(), "From": "+15550001111", "To": "+15550100000", "Body": "hi"}
    answer = helpline.post_signed("/twilio/messages", form, signature=signature)
    assert answer.status_code == 403
    assert count_messages(helpline) == 0


def test_signature_over_a_different_body_is_refused(helpline: Helpline) -> None:
    """A signature is bound to the form: changing one field after signing fails the check."""
    from tests.support import sign

    form = {"MessageSid": message_sid(), "From": "+15550001111", "To": "+15550100000", "Body": "hi"}
    url = helpline.settings.public_url + "/twilio/messages"
    signature = sign(helpline.settings.webhook_auth_token, url, form)
    answer = helpline.post_signed("/twilio/messages", {**form, "Body": "changed"}, signature)
    assert answer.status_code == 403


def test_signature_over_the_url_with_its_port_is_accepted(helpline: Helpline) -> None:
    """Twilio may sign the URL with its default port written out; both forms are Twilio's."""
    from tests.support import sign

    form = {"MessageSid": message_sid(), "From": "+15550001111", "To": "+15550100000", "Body": "hi"}
    scheme, rest = helpline.settings.public_url.split("://", 1)
    host, _, path = rest.partition("/")
    with_port = f"{scheme}://{host}:{443 if scheme == 'https' else 80}/{path}".rstrip("/")
    signature = sign(helpline.settings.webhook_auth_token, with_port + "/twilio/messages", form)
    assert helpline.post_signed("/twilio/messages", form, signature).status_code == 200
    assert count_messages(helpline) == 1


def test_same_message_sid_three_times_stores_one_message(helpline: Helpline) -> None:
    sid = message_sid()
    for _ in range(3):
        assert helpline.text_in("once", from_="+15550009999", sid=sid).status_code == 200
    assert count_messages(helpline) == 1


def test_same_message_sid_is_processed_once(helpline: Helpline) -> None:
    """Twilio's retry of a webhook sends the texter nothing twice."""
    helpline.supporter()
    sid = message_sid()
    for _ in range(3):
        helpline.text_in("hello", from_="+15550008888", sid=sid)
    helpline.run_jobs()
    assert len(helpline.twilio.to("+15550008888")) == 1


def test_missing_from_is_a_400(helpline: Helpline) -> None:
    form = {"MessageSid": message_sid(), "To": "+15550100000", "Body": "hi"}
    answer = helpline.post_signed("/twilio/messages", form)
    assert answer.status_code == 400
    assert b"From" in answer.data
    assert count_messages(helpline) == 0


def test_missing_message_sid_is_a_400(helpline: Helpline) -> None:
    form = {"From": "+15550001111", "To": "+15550100000", "Body": "hi"}
    assert helpline.post_signed("/twilio/messages", form).status_code == 400


def test_hundred_kilobyte_body_is_refused_with_a_4xx(helpline: Helpline) -> None:
    answer = helpline.text_in("x" * 100_000)
    assert 400 <= answer.status_code < 500
    assert count_messages(helpline) == 0


def test_invalid_utf8_is_a_400(helpline: Helpline) -> None:
    answer = helpline.client.post(
        "/twilio/messages",
        data=b"MessageSid=SM00000000000000000000000000000000&From=%2B1555&Body=%FF%FE",
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": "x"},
    )
    assert answer.status_code == 400


def test_non_form_body_is_a_415(helpline: Helpline) -> None:
    answer = helpline.client.post(
        "/twilio/messages", data=b"\x00\x01\x02", content_type="application/octet-stream"
    )
    assert answer.status_code == 415


def test_emoji_and_markup_are_stored_exactly(helpline: Helpline) -> None:
    body = "<script>alert(1)</script> 😢\u200b\t" + "🙂" * 400
    assert helpline.text_in(body).status_code == 200
    assert helpline.db.scalars(select(Message)).one().body == body


def test_status_callback_moves_delivery_forward_never_back(helpline: Helpline) -> None:
    helpline.supporter()
    helpline.text_in("hi", from_="+15550007777")
    helpline.run_jobs()
    sid = helpline.twilio.to("+15550007777")[0]["sid"]
    assert helpline.status_callback(sid, "delivered").status_code == 204
    assert helpline.status_callback(sid, "sent").status_code == 204  # late, out of order
    helpline.look_again()
    out = helpline.db.scalars(select(Message).where(Message.sid == sid)).one()
    assert out.delivery_status == "delivered"


def test_unsigned_status_callback_is_refused(helpline: Helpline) -> None:
    answer = helpline.client.post(
        "/twilio/status", data={"MessageSid": "SM1", "MessageStatus": "delivered"}
    )
    assert answer.status_code == 403


def test_a_text_for_another_twilio_account_is_refused(helpline: Helpline) -> None:
    answer = helpline.text_in("hi", AccountSid="AC" + "1" * 32)
    assert answer.status_code == 403
    assert count_messages(helpline) == 0


def test_an_address_sending_forged_webhooks_is_slowed_down(helpline: Helpline) -> None:
    form = {"MessageSid": message_sid(), "From": "+15550001111", "To": "+15550100000", "Body": "hi"}
    codes = [
        helpline.post_signed("/twilio/messages", form, signature="Zm9yZ2Vk").status_code
        for _ in range(31)
    ]
    assert codes == [403] * 30 + [429]
    # Twilio's requests come from shared addresses: a signed one is still served.
    assert helpline.text_in("hi", from_="+15550001111").status_code == 200


def test_database_down_answers_503_so_twilio_retries(helpline: Helpline) -> None:
    from dataclasses import replace

    from helpline.app import create_app

    broken = replace(
        helpline.settings, database_url="postgresql+psycopg://nobody@127.0.0.1:9/nothing"
    )
    helpline.client = create_app(broken, TESTING=True).test_client()
    answer = helpline.text_in("are you there")
    assert answer.status_code == 503


@pytest.mark.postgres
def test_a_connection_the_database_closed_costs_no_text(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection used a moment ago is lent unchecked: one the database has closed since (a
    restart, a failover) fails the store's statement, which runs again on a fresh one."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)
    assert helpline.text_in("first").status_code == 200
    engine = helpline.app.extensions["helpline"].autocommit
    with engine.connect() as pooled:  # the connection the webhook used, back in the pool
        backend = pooled.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    helpline.db.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    helpline.db.commit()
    answer = helpline.text_in("second")
    assert answer.status_code == 200
    helpline.look_again()
    assert helpline.db.scalars(select(Message.body).order_by(Message.id)).all() == [
        "first",
        "second",
    ]


def test_webhooks_arriving_while_a_store_is_made_are_stored_together(
    helpline: Helpline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts that reach a web process while it stores another are stored in one batch once it
    is done (one transaction, one round trip), each webhook answered for its own text, and
    each text handed to the workers once."""
    batches: list[int] = []
    store_all = intake.store_all

    def counting(
        db: object, received: list[tuple[intake.Inbound, object]], *rest: object
    ) -> list[int]:
        batches.append(len(received))
        return store_all(db, received, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(intake, "store_all", counting)
    first = texter_number()
    answers: dict[str, int] = {}

    def text_in(body: str, from_: str) -> None:
        own = dataclasses.replace(helpline, client=helpline.app.test_client())
        answers[body] = own.text_in(body, from_=from_).status_code

    with _stores_held(helpline, first):
        leading = threading.Thread(target=text_in, args=("first", first))
        leading.start()
        wait_until(lambda: _waiting(helpline) == 1, 10, "the first store waiting for the lock")
        waiting = [
            threading.Thread(target=text_in, args=(f"text {n}", texter_number())) for n in range(5)
        ]
        for thread in waiting:
            thread.start()
        wait_until(lambda: _waiting(helpline) == 6, 10, "five texts queued behind it")
    for thread in [leading, *waiting]:
        thread.join(30)
    assert batches == [1, 5]
    assert answers == {"first": 200, **{f"text {n}": 200 for n in range(5)}}
    helpline.look_again()
    stored = helpline.db.scalars(select(Message.id).order_by(Message.id)).all()
    assert len(stored) == 6
    redis = helpline.app.extensions["helpline"].redis
    handed_on = [int(i) for i in redis.lrange(queues.inbound_list(0), 0, -1)]
    assert sorted(handed_on) == list(stored)


@contextmanager
def _stores_held(helpline: Helpline, texter: str) -> Iterator[None]:
    """Until the block ends, a store of `texter`'s text waits: on PostgreSQL for the texter's
    lock, on SQLite for the write lock."""
    engine = db.get_engine(helpline.settings.database_url)
    with engine.connect() as holder:
        if engine.dialect.name == "postgresql":
            key = intake.lock_key(vault.index(texter))
            holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        else:
            holder.begin()  # BEGIN IMMEDIATE: the write lock
        yield
        holder.rollback()


def _waiting(helpline: Helpline) -> int:
    """Texts in the web's intake, waiting for their batch or in it."""
    intake_line = helpline.app.extensions.get("helpline.intake")
    return len(intake_line._line) if intake_line else 0
