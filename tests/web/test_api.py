"""The JSON API of the contract: tokens, roles, supporters, shifts, settings, conversations."""

from __future__ import annotations

import re

import pytest

from helpline.models import User
from tests.support import PASSWORD, Helpline


@pytest.fixture
def casey(helpline: Helpline) -> User:
    return helpline.coordinator("Casey Lee")


def test_health_answers_ok_without_a_token(helpline: Helpline) -> None:
    answer = helpline.api("GET", "/health")
    assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}


def test_token_with_wrong_password_is_a_401(helpline: Helpline, casey: User) -> None:
    answer = helpline.client.post(
        "/api/v1/tokens", json={"email": casey.email, "password": "wrong password"}
    )
    assert answer.status_code == 401 and "error" in answer.get_json()


def test_unknown_email_answers_like_a_wrong_password(helpline: Helpline) -> None:
    answer = helpline.client.post(
        "/api/v1/tokens", json={"email": "nobody@example.org", "password": PASSWORD}
    )
    assert answer.status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/supporters",
        "/queue",
        "/conversations",
        "/settings",
        "/shifts",
        "/supporters/1",
        "/conversations/1",
    ],
)
def test_calls_without_a_token_are_401(helpline: Helpline, path: str) -> None:
    answer = helpline.api("GET", path)
    assert answer.status_code == 401 and answer.get_json()["error"]


def test_garbage_token_is_401(helpline: Helpline) -> None:
    answer = helpline.api("GET", "/supporters", headers={"Authorization": "Bearer nonsense"})
    assert answer.status_code == 401


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/supporters"),
        ("POST", "/supporters"),
        ("GET", "/queue"),
        ("GET", "/settings"),
        ("PATCH", "/settings"),
        ("POST", "/shifts"),
    ],
)
def test_supporters_may_not_make_coordinator_calls(
    helpline: Helpline, method: str, path: str
) -> None:
    sam = helpline.supporter()
    answer = helpline.api(method, path, user=sam, json={})
    assert answer.status_code == 403


def test_coordinator_creates_and_reads_a_supporter(helpline: Helpline, casey: User) -> None:
    answer = helpline.api(
        "POST",
        "/supporters",
        user=casey,
        json={
            "email": "ana@example.org",
            "name": "Ana Díaz",
            "password": "a long password",
            "role": "supporter",
            "skills": ["crisis"],
            "languages": ["es", "en"],
            "max_conversations": 2,
        },
    )
    assert answer.status_code == 201
    created = answer.get_json()
    assert created["id"] and created["status"] == "offline"
    assert created["active_conversations"] == 0 and created["languages"] == ["en", "es"]
    again = helpline.api("GET", f"/supporters/{created['id']}", user=casey)
    assert again.get_json()["email"] == "ana@example.org"
    assert "password" not in again.get_json() and "password_hash" not in again.get_json()


def test_creating_a_taken_email_is_a_409(helpline: Helpline, casey: User) -> None:
    answer = helpline.api(
        "POST",
        "/supporters",
        user=casey,
        json={"email": casey.email, "name": "Twin", "password": "a long password"},
    )
    assert answer.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"email": "bad", "name": "x", "password": "a long pass"},
        {"email": "a@b.org", "name": "", "password": "a long pass"},
        {"email": "a@b.org", "name": "x", "password": "short"},
        {"email": "a@b.org", "name": "x", "password": "a long pass", "max_conversations": -1},
        {"email": "a@b.org", "name": "x", "password": "a long pass", "skills": "crisis"},
        {"email": "a@b.org", "name": "x", "password": "a long pass", "is_admin": True},
    ],
)
def test_invalid_supporter_is_a_400_with_a_reason(
    helpline: Helpline, casey: User, body: dict[str, object]
) -> None:
    answer = helpline.api("POST", "/supporters", user=casey, json=body)
    assert answer.status_code == 400 and answer.get_json()["error"]


def test_non_json_body_is_a_400(helpline: Helpline, casey: User) -> None:
    answer = helpline.api(
        "POST", "/supporters", user=casey, data="not json", content_type="text/plain"
    )
    assert answer.status_code == 400


def test_supporter_may_read_only_their_own_record(helpline: Helpline) -> None:
    sam = helpline.supporter("Sam Rivers")
    ivy = helpline.supporter("Ivy Chen")
    assert helpline.api("GET", f"/supporters/{sam.id}", user=sam).status_code == 200
    assert helpline.api("GET", f"/supporters/{ivy.id}", user=sam).status_code == 403


def test_unknown_supporter_is_a_404(helpline: Helpline, casey: User) -> None:
    assert helpline.api("GET", "/supporters/9999", user=casey).status_code == 404


def test_supporter_list_pages_with_next(helpline: Helpline, casey: User) -> None:
    for i in range(3):
        helpline.supporter(f"Person {i}", on_shift=False)
    first = helpline.api("GET", "/supporters?limit=2", user=casey).get_json()
    assert len(first["items"]) == 2 and first["next"]
    second = helpline.client.get(
        first["next"], headers={"Authorization": f"Bearer {helpline.token(casey)}"}
    ).get_json()
    assert len(second["items"]) == 2 and second["next"] is None
    ids = [s["id"] for s in first["items"] + second["items"]]
    assert len(set(ids)) == 4


@pytest.mark.parametrize("limit", ["0", "1001", "ten"])
def test_bad_limit_is_a_400(helpline: Helpline, casey: User, limit: str) -> None:
    assert helpline.api("GET", f"/supporters?limit={limit}", user=casey).status_code == 400


def test_status_switch_by_self_and_refusal_of_unknown_status(helpline: Helpline) -> None:
    sam = helpline.supporter(status="offline")
    ok = helpline.api("PUT", f"/supporters/{sam.id}/status", user=sam, json={"status": "available"})
    assert ok.status_code == 200 and ok.get_json()["status"] == "available"
    bad = helpline.api("PUT", f"/supporters/{sam.id}/status", user=sam, json={"status": "busy"})
    assert bad.status_code == 400


def test_shift_is_created_and_listed_as_an_occurrence(helpline: Helpline, casey: User) -> None:
    sam = helpline.supporter(on_shift=False)
    answer = helpline.api(
        "POST",
        "/shifts",
        user=casey,
        json={
            "supporter_id": sam.id,
            "starts_at": "2026-12-01T18:00:00+00:00",
            "ends_at": "2026-12-01T22:00:00Z",
        },
    )
    assert answer.status_code == 201
    listed = helpline.api(
        "GET", "/shifts?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z", user=casey
    ).get_json()["items"]
    assert listed == [
        {
            "shift_id": answer.get_json()["id"],
            "supporter_id": sam.id,
            "starts_at": "2026-12-01T18:00:00+00:00",
            "ends_at": "2026-12-01T22:00:00+00:00",
        }
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"starts_at": "2026-12-01T18:00:00", "ends_at": "2026-12-01T22:00:00+00:00"},
        {"starts_at": "2026-12-01T22:00:00Z", "ends_at": "2026-12-01T18:00:00Z"},
        {"starts_at": "yesterday", "ends_at": "2026-12-01T18:00:00Z"},
        {
            "starts_at": "2026-12-01T18:00:00Z",
            "ends_at": "2026-12-01T22:00:00Z",
            "rrule": "FREQ=NO",
        },
        {
            "starts_at": "2026-12-01T18:00:00Z",
            "ends_at": "2026-12-01T18:30:00Z",
            "rrule": "freq=minutely;interval=45",
        },
        {
            "starts_at": "2026-12-01T18:00:00Z",
            "ends_at": "2026-12-01T18:30:00Z",
            "rrule": "FREQ=HOURLY",
        },
    ],
)
def test_invalid_shift_is_a_400(helpline: Helpline, casey: User, body: dict[str, str]) -> None:
    sam = helpline.supporter(on_shift=False)
    answer = helpline.api("POST", "/shifts", user=casey, json={"supporter_id": sam.id, **body})
    assert answer.status_code == 400 and answer.get_json()["error"]


def test_shift_is_deleted(helpline: Helpline, casey: User) -> None:
    sam = helpline.supporter(on_shift=False)
    created = helpline.api(
        "POST",
        "/shifts",
        user=casey,
        json={
            "supporter_id": sam.id,
            "starts_at": "2026-12-01T18:00:00Z",
            "ends_at": "2026-12-01T22:00:00Z",
        },
    ).get_json()
    assert helpline.api("DELETE", f"/shifts/{created['id']}", user=casey).status_code == 204
    assert helpline.api("DELETE", f"/shifts/{created['id']}", user=casey).status_code == 404


def test_settings_are_read_and_changed_with_validation(helpline: Helpline, casey: User) -> None:
    values = helpline.api("GET", "/settings", user=casey).get_json()
    assert values["return_window_s"] == 7 * 24 * 3600
    changed = helpline.api("PATCH", "/settings", user=casey, json={"shift_end_grace_s": 60})
    assert changed.status_code == 200 and changed.get_json()["shift_end_grace_s"] == 60
    assert (
        helpline.api(
            "PATCH", "/settings", user=casey, json={"shift_end_grace_s": "soon"}
        ).status_code
        == 400
    )
    assert (
        helpline.api("PATCH", "/settings", user=casey, json={"colour": "blue"}).status_code == 400
    )


def test_queue_lists_waiting_conversations_in_serving_order(
    helpline: Helpline, casey: User
) -> None:
    helpline.text_in("first", from_="+15550204001")
    helpline.text_in("second", from_="+15550204002")
    helpline.run_jobs()
    items = helpline.api("GET", "/queue", user=casey).get_json()["items"]
    assert len(items) == 2 and items[0]["waiting_since"] <= items[1]["waiting_since"]
    assert set(items[0]) == {"id", "priority", "waiting_since", "required_skills"}


def test_openapi_describes_every_api_route(helpline: Helpline) -> None:
    spec = helpline.client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {("/api/v1" + path).replace("{id}", "<id>") for path in spec["paths"]}
    routes = {
        re.sub(r"<(int:)?\w+>", "<id>", str(rule))
        for rule in helpline.app.url_map.iter_rules()
        if str(rule).startswith("/api/v1")
    }
    assert routes == documented


def test_unknown_api_path_is_a_json_404(helpline: Helpline) -> None:
    answer = helpline.api("GET", "/nothing-here")
    assert answer.status_code == 404 and answer.get_json()["error"]


def test_one_occurrence_of_a_weekly_shift_is_cancelled_or_moved(
    helpline: Helpline, casey: User
) -> None:
    sam = helpline.supporter(on_shift=False)
    weekly = helpline.api(
        "POST",
        "/shifts",
        user=casey,
        json={
            "supporter_id": sam.id,
            "starts_at": "2026-12-07T18:00:00Z",
            "ends_at": "2026-12-07T22:00:00Z",
            "rrule": "FREQ=WEEKLY;COUNT=3",
        },
    ).get_json()
    window = "/shifts?from=2026-12-01T00:00:00Z&to=2026-12-31T00:00:00Z"
    assert len(helpline.api("GET", window, user=casey).get_json()["items"]) == 3
    cancelled = helpline.api(
        "POST",
        f"/shifts/{weekly['id']}/cancel",
        user=casey,
        json={"occurrence": "2026-12-14T18:00:00+00:00"},
    )
    assert cancelled.status_code == 200
    moved = helpline.api(
        "POST",
        f"/shifts/{weekly['id']}/move",
        user=casey,
        json={
            "occurrence": "2026-12-21T18:00:00Z",
            "starts_at": "2026-12-22T09:00:00Z",
            "ends_at": "2026-12-22T13:00:00Z",
        },
    )
    assert moved.status_code == 201
    starts = [o["starts_at"] for o in helpline.api("GET", window, user=casey).get_json()["items"]]
    assert starts == ["2026-12-07T18:00:00+00:00", "2026-12-22T09:00:00+00:00"]
    wrong = helpline.api(
        "POST",
        f"/shifts/{weekly['id']}/cancel",
        user=casey,
        json={"occurrence": "2026-12-08T18:00:00Z"},
    )
    assert wrong.status_code == 400
