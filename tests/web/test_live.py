"""Live notices: every committed change a supporter would see reaches their Redis stream (ids
and kinds only), and their event stream replays, re-syncs and wakes as documented."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import select, update

from helpline.live import feed, notices
from helpline.models import Conversation, Message, Shift, Texter, User, utcnow
from tests.processes import free_port
from tests.support import Helpline, statements_run
from tests.web.conftest import post_form, sign_in
from workers import jobs, runtime

QUICK = feed.Timing(lifetime_s=0.4, heartbeat_s=0.1, retry_ms=500)


def told(helpline: Helpline, user: User) -> list[tuple[str, int]]:
    """(kind, conversation id) of every notice in the supporter's stream, oldest first."""
    redis = Redis.from_url(helpline.settings.redis_url, decode_responses=True)
    entries = redis.xrange(notices.stream_key(user.id))
    return [(fields["kind"], int(fields["conversation"])) for _, fields in entries]


def conversation_for(helpline: Helpline, number: str, body: str = "hello") -> Conversation:
    helpline.text_in(body, from_=number)
    helpline.run_jobs()
    return next(c for c in helpline.db.scalars(select(Conversation)) if c.texter.address == number)


def holders_read(statements: list[str]) -> list[str]:
    """Of these statements, those reading conversations' holders for their notices."""
    prefix = "SELECT conversations.id, conversations.supporter_id, conversations.offered_to_id"
    return [s for s in statements if s.startswith(prefix)]


def forget_notices(helpline: Helpline, *people: User) -> None:
    redis = Redis.from_url(helpline.settings.redis_url)
    redis.delete(*(notices.stream_key(p.id) for p in people))


@pytest.fixture
def bell_messages(helpline: Helpline) -> Iterator[list[str]]:
    """Everything rung on the doorbell channel during the test."""
    heard: list[str] = []
    pubsub = Redis.from_url(helpline.settings.redis_url, decode_responses=True).pubsub()
    pubsub.subscribe(notices.BELL)
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.05, ignore_subscribe_messages=True)
            if message:
                heard.append(message["data"])

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    yield heard
    stop.set()
    thread.join()
    pubsub.close()


def test_a_new_conversation_tells_its_supporter_with_ids_and_kinds_only(
    helpline: Helpline, bell_messages: list[str]
) -> None:
    sam = helpline.supporter()
    convo = conversation_for(helpline, "+15550208101", "it is me at +15550208101, can we talk")
    assert ("assigned", convo.id) in told(helpline, sam)
    redis = Redis.from_url(helpline.settings.redis_url, decode_responses=True)
    for key in redis.scan_iter("helpline:live:*"):
        if key == notices.stream_key(notices.BOARD):
            assert all(fields == {"kind": "board"} for _, fields in redis.xrange(key))
            continue
        for _, fields in redis.xrange(key):
            assert set(fields) == {"kind", "conversation"}
            assert fields["kind"] in notices.KINDS and fields["conversation"].isdigit()
    time.sleep(0.2)
    assert bell_messages and set(bell_messages) <= {str(sam.id), notices.BOARD}


def test_a_text_in_my_conversation_tells_me_and_nobody_else(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    convo = conversation_for(helpline, "+15550208102")
    ivy = helpline.supporter("Ivy Chen")
    forget_notices(helpline, sam)
    helpline.text_in("are you still there?", from_="+15550208102")
    helpline.run_jobs()
    assert told(helpline, sam) == [("text", convo.id)]
    assert told(helpline, ivy) == []


def test_a_transfer_tells_the_one_it_leaves_and_the_one_it_reaches(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    convo = conversation_for(helpline, "+15550208103")
    ivy = helpline.supporter("Ivy Chen")
    forget_notices(helpline, sam)
    sign_in(helpline.client, sam)
    path = f"/inbox/conversations/{convo.id}"
    answer = post_form(
        helpline.client, path + "/transfer", {"target": f"person:{ivy.id}", "note": "kind"}, path
    )
    assert answer.status_code == 302
    assert told(helpline, sam) == [("removed", convo.id)]
    assert told(helpline, ivy) == [("assigned", convo.id)]


def test_a_delivery_status_tells_the_supporter_holding_the_conversation(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter()
    convo = conversation_for(helpline, "+15550208104")
    forget_notices(helpline, sam)
    greeting = helpline.db.scalars(select(Message).where(Message.direction == "out")).first()
    assert greeting is not None and greeting.sid
    assert helpline.status_callback(greeting.sid, "delivered").status_code == 204
    assert told(helpline, sam) == [("updated", convo.id)]


def test_a_reply_handed_to_twilio_tells_the_supporter_holding_the_conversation(
    helpline: Helpline,
) -> None:
    """The reply's row gets Twilio's sid and status in plain SQL; its supporter still hears,
    known from the claim (the conversation is not read again)."""
    sam = helpline.supporter()
    convo = conversation_for(helpline, "+15550208105")
    sign_in(helpline.client, sam)
    path = f"/inbox/conversations/{convo.id}"
    assert (
        post_form(helpline.client, path + "/reply", {"body": "I'm here"}, path).status_code == 302
    )
    forget_notices(helpline, sam)
    with statements_run() as read:
        helpline.run_jobs()
    assert helpline.twilio.to("+15550208105")[-1]["Body"] == "I'm here"
    assert told(helpline, sam) == [("updated", convo.id)]
    assert not holders_read(read)


def test_a_reply_cancelled_by_an_opt_out_tells_the_supporter_holding_the_conversation(
    helpline: Helpline,
) -> None:
    """The texter opted out while the reply waited: the claim cancels it in plain SQL, and
    its supporter hears, so their inbox shows it will not go."""
    sam = helpline.supporter()
    convo = conversation_for(helpline, "+15550208106")
    sign_in(helpline.client, sam)
    path = f"/inbox/conversations/{convo.id}"
    assert post_form(helpline.client, path + "/reply", {"body": "still?"}, path).status_code == 302
    helpline.look_again()
    helpline.db.execute(update(Texter).where(Texter.id == convo.texter_id).values(opted_out=True))
    helpline.db.commit()
    forget_notices(helpline, sam)
    helpline.run_jobs()
    assert helpline.twilio.to("+15550208106")[-1]["Body"] != "still?"
    assert told(helpline, sam) == [("updated", convo.id)]


def test_a_warm_handoff_tells_the_supporter_it_is_offered_to(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    convo = conversation_for(helpline, "+15550208105")
    ivy = helpline.supporter("Ivy Chen")
    helpline.look_again()
    helpline.db.execute(update(Conversation).values(assigned_at=utcnow() - timedelta(minutes=10)))
    helpline.db.execute(update(Shift).where(Shift.supporter_id == sam.id).values(ends_at=utcnow()))
    helpline.db.commit()
    jobs.tick()
    helpline.run_jobs()
    assert ("offered", convo.id) in told(helpline, ivy)


def test_a_change_rolled_back_tells_nobody(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo = conversation_for(helpline, "+15550208106")
    forget_notices(helpline, sam)
    with pytest.raises(RuntimeError), runtime.transaction() as session:
        held = session.get(Conversation, convo.id)
        assert held is not None
        held.priority = "urgent"
        session.flush()
        raise RuntimeError("the job failed after flushing")
    assert told(helpline, sam) == []


def test_a_conversation_written_through_its_object_is_not_read_again_for_its_holders(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter()
    convo = conversation_for(helpline, "+15550208107")
    forget_notices(helpline, sam)
    with statements_run() as read, runtime.transaction() as session:
        held = session.get(Conversation, convo.id)
        assert held is not None
        held.priority = "urgent"
    assert told(helpline, sam) == [("updated", convo.id)]
    assert not holders_read(read)


def test_after_a_savepoint_the_holders_are_read_at_the_commit(helpline: Helpline) -> None:
    sam = helpline.supporter()
    convo = conversation_for(helpline, "+15550208108")
    forget_notices(helpline, sam)
    with statements_run() as read, runtime.transaction() as session:
        held = session.get(Conversation, convo.id)
        assert held is not None
        with pytest.raises(RuntimeError), session.begin_nested():
            held.priority = "urgent"
            session.flush()  # what it wrote may be rolled back with the savepoint
            raise RuntimeError("the savepoint's work failed")
    assert told(helpline, sam) == [("updated", convo.id)]
    assert holders_read(read)


def test_event_stream_needs_a_signed_in_supporter(helpline: Helpline) -> None:
    assert helpline.client.get("/inbox/events").status_code == 401


def stream_body(helpline: Helpline, **headers: str) -> str:
    helpline.app.config["LIVE_TIMING"] = QUICK
    answer = helpline.client.get("/inbox/events", headers=headers)
    assert answer.status_code == 200 and answer.mimetype == "text/event-stream"
    assert answer.headers["Cache-Control"] == "no-store"
    return answer.get_data(as_text=True)


def test_event_stream_resumes_after_the_last_event_id(helpline: Helpline) -> None:
    sam = helpline.supporter()
    sign_in(helpline.client, sam)
    redis = Redis.from_url(helpline.settings.redis_url)
    notices.publish(redis, [notices.Notice(sam.id, 7, "text")])
    seen = feed.latest_id(redis, sam.id)
    notices.publish(redis, [notices.Notice(sam.id, 8, "assigned")])
    body = stream_body(helpline, **{"Last-Event-ID": seen})
    assert '"conversation": 8' in body and '"kind": "assigned"' in body
    assert '"conversation": 7' not in body and "event: resync" not in body
    assert f"id: {feed.latest_id(redis, sam.id)}" in body


@pytest.mark.parametrize("last_id", ["", "not-an-id", "1-0"])
def test_event_stream_resyncs_when_it_cannot_replay(helpline: Helpline, last_id: str) -> None:
    """No id, a malformed one, or one older than every notice kept: re-read everything."""
    sam = helpline.supporter()
    sign_in(helpline.client, sam)
    redis = Redis.from_url(helpline.settings.redis_url)
    for n in range(notices.STREAM_LENGTH + 5):
        notices.publish(redis, [notices.Notice(sam.id, n, "updated")])
    body = stream_body(helpline, **({"Last-Event-ID": last_id} if last_id else {}))
    assert body.startswith("retry: 500\n\n")
    assert "event: resync" in body and "event: notice" not in body


def test_event_stream_asks_for_a_resync_when_redis_lost_the_notices(helpline: Helpline) -> None:
    sam = helpline.supporter()
    sign_in(helpline.client, sam)
    body = stream_body(helpline, **{"Last-Event-ID": "1700000000000-0"})
    assert "event: resync" in body


def test_a_ring_from_another_process_wakes_the_stream_at_once(helpline: Helpline) -> None:
    """With heartbeats far apart, only the doorbell (pub/sub) can deliver the notice quickly."""
    redis = Redis.from_url(helpline.settings.redis_url)
    bell = feed.Doorbell(helpline.settings.redis_url, max_streams=4)
    timing = feed.Timing(lifetime_s=5, heartbeat_s=30)
    body = feed.stream(redis, bell, 41, feed.START, timing)
    assert next(body).startswith("retry:")
    time.sleep(0.3)  # let the doorbell subscribe
    got: list[tuple[float, str]] = []
    reader = threading.Thread(target=lambda: got.append((time.monotonic(), next(body))))
    reader.start()
    sent_at = time.monotonic()
    notices.publish(Redis.from_url(helpline.settings.redis_url), [notices.Notice(41, 9, "text")])
    reader.join(timeout=5)
    body.close()
    ((arrived, event),) = got
    assert "event: notice" in event and '"conversation": 9' in event
    assert arrived - sent_at < 1.0
    assert bell.streams() == 0  # closing the response let go of its registration
    deadline = time.monotonic() + 3
    while bell.is_listening() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not bell.is_listening()  # no stream left: no subscription held


def test_a_process_serving_its_limit_of_streams_asks_the_browser_to_come_back(
    helpline: Helpline,
) -> None:
    redis = Redis.from_url(helpline.settings.redis_url)
    bell = feed.Doorbell(helpline.settings.redis_url, max_streams=1)
    first = feed.stream(redis, bell, 1, feed.START, QUICK)
    next(first)
    second = "".join(feed.stream(redis, bell, 2, feed.START, QUICK))
    assert second.startswith(f"retry: {feed.BUSY_RETRY_MS}") and "event: resync" in second
    first.close()
    assert bell.streams() == 0


def test_a_stream_without_redis_ends_and_asks_the_browser_to_wait(helpline: Helpline) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    bell = feed.Doorbell(nowhere, max_streams=4)
    unreachable = Redis.from_url(nowhere, socket_connect_timeout=0.5)
    body = "".join(feed.stream(unreachable, bell, 1, "1-0", QUICK))
    assert body.endswith(f"retry: {feed.BUSY_RETRY_MS}\n\n")
    assert bell.streams() == 0


def test_a_thread_that_left_me_tells_the_refreshing_page_in_plain_words(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter("Sam Rivers")
    convo = conversation_for(helpline, "+15550208107")
    ivy = helpline.supporter("Ivy Chen")
    sign_in(helpline.client, ivy)
    path = f"/inbox/conversations/{convo.id}"
    assert helpline.client.get(path).status_code == 404
    partial = helpline.client.get(path, headers={"HX-Request": "true"})
    assert partial.status_code == 404
    assert "no longer in your inbox" in partial.get_data(as_text=True)
    assert sam.id != ivy.id


def test_transfer_to_a_pool_puts_the_conversation_back_in_the_queue(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    convo = conversation_for(helpline, "+15550208108")
    sign_in(helpline.client, sam)
    path = f"/inbox/conversations/{convo.id}"
    answer = post_form(helpline.client, path + "/transfer", {"target": "pool:crisis"}, path)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/inbox")
    helpline.look_again()
    moved = helpline.db.get(Conversation, convo.id)
    assert moved is not None and moved.status == "queued" and "crisis" in moved.required_skills


@pytest.mark.parametrize("target", ["", "person:abc", "person:99999", "somewhere:else"])
def test_transfer_to_nobody_we_know_is_a_400(helpline: Helpline, target: str) -> None:
    sam = helpline.supporter("Sam Rivers")
    convo = conversation_for(helpline, "+15550208109")
    sign_in(helpline.client, sam)
    path = f"/inbox/conversations/{convo.id}"
    answer = post_form(helpline.client, path + "/transfer", {"target": target}, path)
    assert answer.status_code == 400


def board_notices(helpline: Helpline) -> int:
    redis = Redis.from_url(helpline.settings.redis_url)
    return int(redis.xlen(notices.stream_key(notices.BOARD)))


def test_a_conversation_change_puts_one_board_notice_per_transaction(
    helpline: Helpline, bell_messages: list[str]
) -> None:
    helpline.supporter(status="away")  # nobody takes it: the text waits in the queue
    before = board_notices(helpline)
    convo = conversation_for(helpline, "+15550208301", "anyone there?")
    assert convo.status == "queued"
    after_text = board_notices(helpline)
    assert after_text > before
    redis = Redis.from_url(helpline.settings.redis_url, decode_responses=True)
    newest = redis.xrevrange(notices.stream_key(notices.BOARD), count=1)[0][1]
    assert newest == {"kind": "board"}  # names nothing: the board re-reads itself

    with runtime.transaction() as session:  # two changes, one transaction: one notice
        held = session.get(Conversation, convo.id)
        assert held is not None
        held.priority = "urgent"
        session.flush()
        held.required_skills = ["crisis"]
    assert board_notices(helpline) == after_text + 1
    time.sleep(0.2)
    assert notices.BOARD in bell_messages


def test_a_supporter_going_available_tells_the_board_and_signing_in_does_not(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter(status="away")
    before = board_notices(helpline)
    sign_in(helpline.client, sam)
    assert board_notices(helpline) == before
    with runtime.transaction() as session:
        held = session.get(User, sam.id)
        assert held is not None
        held.status = "available"
    assert board_notices(helpline) == before + 1


def test_a_rolled_back_change_tells_the_board_nothing(helpline: Helpline) -> None:
    convo = conversation_for(helpline, "+15550208302")
    before = board_notices(helpline)
    with pytest.raises(RuntimeError), runtime.transaction() as session:
        held = session.get(Conversation, convo.id)
        assert held is not None
        held.priority = "urgent"
        session.flush()
        raise RuntimeError("the job failed after flushing")
    assert board_notices(helpline) == before


def test_board_events_are_for_coordinators_only(helpline: Helpline) -> None:
    assert helpline.client.get("/console/events").status_code == 401
    sign_in(helpline.client, helpline.supporter())
    assert helpline.client.get("/console/events").status_code == 403


def test_board_events_resume_after_the_last_event_id_and_wake_on_a_change(
    helpline: Helpline,
) -> None:
    casey = helpline.supporter(name="Casey Lee", role="coordinator")
    sign_in(helpline.client, casey)
    redis = Redis.from_url(helpline.settings.redis_url)
    notices.publish(redis, [], board=True)
    seen = feed.latest_id(redis, notices.BOARD)
    notices.publish(redis, [], board=True)
    newest = feed.latest_id(redis, notices.BOARD)
    helpline.app.config["LIVE_TIMING"] = QUICK
    answer = helpline.client.get("/console/events", headers={"Last-Event-ID": seen})
    assert answer.status_code == 200 and answer.mimetype == "text/event-stream"
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.get_data(as_text=True)
    assert f"event: notice\nid: {newest}\ndata: " in body
    assert f"id: {seen}\n" not in body and "event: resync" not in body


def test_the_board_page_subscribes_to_the_board_stream(helpline: Helpline) -> None:
    casey = helpline.supporter(name="Casey Lee", role="coordinator")
    sign_in(helpline.client, casey)
    page = helpline.client.get("/console").get_data(as_text=True)
    assert 'data-live-events="/console/events' in page
    assert 'data-live-on="notice resync"' in page
    assert "every 30s" in page
