"""A texter's number, WhatsApp profile name and location never reach a supporter, the database
in clear, or Redis."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from redis import Redis
from sqlalchemy import text

from helpline.db import Base, get_engine
from helpline.models import User
from tests.support import Helpline
from tests.web.conftest import sign_in

SMS_TEXTER = "+15550104321"
WHATSAPP_TEXTER = "whatsapp:+447700900123"
PROFILE_NAME = "Jordan Quillfeather"
LATITUDE = "51.5072178"


def secrets_of_texters() -> list[str]:
    """What must never show: the numbers (with or without their prefixes) and profile."""
    return ["5550104321", "7700900123", PROFILE_NAME, LATITUDE]


def busy_helpline(helpline: Helpline) -> User:
    sam = helpline.supporter("Sam Rivers", max_conversations=5)
    helpline.text_in("I cannot cope tonight", from_=SMS_TEXTER)
    helpline.text_in(
        "are you there",
        from_=WHATSAPP_TEXTER,
        to="whatsapp:+15005550006",
        ProfileName=PROFILE_NAME,
        WaId="447700900123",
        Latitude=LATITUDE,
        Longitude="-0.0879",
    )
    helpline.run_jobs()
    return sam


def leaks(found: str) -> list[str]:
    return [secret for secret in secrets_of_texters() if secret in found]


def test_no_number_is_stored_in_clear_in_the_database(helpline: Helpline) -> None:
    busy_helpline(helpline)
    dump = []
    with get_engine(helpline.settings.database_url).connect() as connection:
        for table in Base.metadata.sorted_tables:
            dump.append(repr(connection.execute(text(f"SELECT * FROM {table.name}")).all()))
    assert "I cannot cope tonight" in "".join(dump)  # the dump is real: texts are there
    assert leaks("".join(dump)) == []


def test_no_number_is_kept_in_redis(helpline: Helpline) -> None:
    busy_helpline(helpline)
    redis = Redis.from_url(helpline.settings.redis_url)
    dumped = [redis.dump(key) or b"" for key in redis.scan_iter()]
    assert dumped, "nothing in Redis to look at"
    assert leaks(repr(dumped)) == []


def test_a_supporter_crawling_every_page_and_api_answer_sees_no_number(
    helpline: Helpline,
) -> None:
    sam = busy_helpline(helpline)
    sign_in(helpline.client, sam)
    seen: dict[str, str] = {}
    to_visit = ["/inbox"]
    while to_visit and len(seen) < 50:
        path = to_visit.pop()
        if path in seen:
            continue
        page = helpline.client.get(path).get_data(as_text=True)
        seen[path] = page
        for link in re.findall(r'(?:href|hx-get)="([^"#]+)"', page):
            target = urlsplit(link)
            if not target.netloc and target.path.startswith(("/inbox", "/api")):
                to_visit.append(target.path)
    assert any(p.startswith("/inbox/conversations/") for p in seen)
    api_paths = ["/conversations", *[p.removeprefix("/inbox") for p in seen if "conv" in p]]
    for path in api_paths:
        seen["/api/v1" + path] = helpline.api("GET", path, user=sam).get_data(as_text=True)
    assert "I cannot cope tonight" in "".join(seen.values())
    assert {path: leaks(page) for path, page in seen.items() if leaks(page)} == {}
