"""Sign-in security: throttling without enumeration, sessions that really end, deactivation."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import select, update

from helpline import preflight
from helpline.app import create_app
from helpline.models import Conversation, WebSession, utcnow
from tests.support import PASSWORD, Helpline
from tests.web.conftest import csrf_token, post_form, sign_in


def test_repeated_wrong_passwords_are_throttled_even_with_the_right_one(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter()
    for _ in range(5):
        assert sign_in(helpline.client, sam, password="guess guess").status_code == 401
    blocked = sign_in(helpline.client, sam)  # the right password, too late
    assert blocked.status_code == 429 and "Too many" in blocked.get_data(as_text=True)


def test_unknown_accounts_are_throttled_the_same_way(helpline: Helpline) -> None:
    from helpline.models import User

    ghost = User(email="nobody@example.org")
    answers = [
        sign_in(helpline.client, ghost, password="guess guess").status_code for _ in range(6)
    ]
    assert answers == [401] * 5 + [429]


def test_api_token_guessing_is_throttled(helpline: Helpline) -> None:
    sam = helpline.supporter()
    for _ in range(5):
        helpline.client.post("/api/v1/tokens", json={"email": sam.email, "password": "nope nope"})
    answer = helpline.client.post("/api/v1/tokens", json={"email": sam.email, "password": PASSWORD})
    assert answer.status_code == 429


def test_a_signed_out_cookie_no_longer_works(helpline: Helpline) -> None:
    sam = helpline.supporter()
    sign_in(helpline.client, sam)
    cookie = helpline.client.get_cookie("session")
    assert cookie is not None
    post_form(helpline.client, "/logout", {})
    thief = helpline.app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/inbox").status_code == 302  # back to the sign-in page


def test_an_idle_session_expires(helpline: Helpline) -> None:
    sam = helpline.supporter()
    sign_in(helpline.client, sam)
    helpline.look_again()
    helpline.db.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    helpline.db.commit()
    assert helpline.client.get("/inbox").status_code == 302


def test_a_session_expires_after_twelve_hours_however_busy(helpline: Helpline) -> None:
    sam = helpline.supporter()
    sign_in(helpline.client, sam)
    helpline.look_again()
    helpline.db.execute(update(WebSession).values(created_at=utcnow() - timedelta(hours=13)))
    helpline.db.commit()
    assert helpline.client.get("/inbox").status_code == 302


def test_sign_in_rotates_the_session(helpline: Helpline) -> None:
    sam = helpline.supporter()
    csrf_token(helpline.client, "/login")
    before = helpline.client.get_cookie("session")
    sign_in(helpline.client, sam)
    after = helpline.client.get_cookie("session")
    assert before is not None and after is not None and before.value != after.value


def test_deactivation_ends_sessions_and_tokens_and_hands_conversations_on(
    helpline: Helpline,
) -> None:
    sam = helpline.supporter("Sam Rivers")
    casey = helpline.coordinator()
    helpline.text_in("hi", from_="+15550209001")
    helpline.run_jobs()
    token = helpline.token(sam)
    sign_in(helpline.client, sam)
    ivy = helpline.supporter("Ivy Chen")
    answer = helpline.api("PATCH", f"/supporters/{sam.id}", user=casey, json={"is_active": False})
    assert answer.status_code == 200
    assert helpline.client.get("/inbox").status_code == 302
    refused = helpline.client.get(
        "/api/v1/conversations", headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 401
    helpline.run_jobs()
    helpline.look_again()
    convo = helpline.db.scalars(select(Conversation)).one()
    assert convo.supporter_id == ivy.id


def test_https_deployments_ask_browsers_to_stay_on_https(helpline: Helpline) -> None:
    assert "Strict-Transport-Security" not in helpline.client.get("/login").headers
    https = create_app(replace(helpline.settings, public_url="https://helpline.example"))
    answer = https.test_client().get("/login")
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_a_redis_that_may_evict_jobs_is_named_at_start(
    helpline: Helpline, caplog: pytest.LogCaptureFixture
) -> None:
    redis = Redis.from_url(helpline.settings.redis_url)
    before = redis.config_get("maxmemory-policy")["maxmemory-policy"]
    redis.config_set("maxmemory-policy", "allkeys-lru")
    try:
        with caplog.at_level(logging.WARNING, logger="helpline.preflight"):
            preflight.check_redis(helpline.settings)
    finally:
        redis.config_set("maxmemory-policy", before)
    assert "maxmemory-policy is allkeys-lru" in caplog.text


@pytest.mark.parametrize(
    "target", ["//evil.example", "/\\evil.example", "/\\/evil.example", "/\t/evil.example"]
)
def test_sign_in_never_sends_the_browser_to_another_site(helpline: Helpline, target: str) -> None:
    """Browsers read `\\` as `/` and drop tabs, so these all mean //evil.example to them."""
    sam = helpline.supporter()
    token = csrf_token(helpline.client, "/login")
    answer = helpline.client.post(
        "/login",
        query_string={"next": target},
        data={"email": sam.email, "password": PASSWORD, "csrf_token": token},
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/inbox"


def test_sign_in_returns_to_the_page_that_asked(helpline: Helpline) -> None:
    sam = helpline.supporter()
    token = csrf_token(helpline.client, "/login")
    answer = helpline.client.post(
        "/login?next=/inbox/conversations/7",
        data={"email": sam.email, "password": PASSWORD, "csrf_token": token},
    )
    assert answer.headers["Location"] == "/inbox/conversations/7"


def test_looking_at_the_sign_in_page_is_not_a_failed_sign_in(helpline: Helpline) -> None:
    """HEAD /login (link checkers, monitors) renders the page; it must not count as a guess."""
    for _ in range(31):
        assert helpline.client.head("/login").status_code == 200
    sam = helpline.supporter()
    assert sign_in(helpline.client, sam).status_code == 302
