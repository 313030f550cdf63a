"""Texters' addresses sealed at rest and found by a blind index."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import select

from helpline import vault
from helpline.config import Settings
from helpline.db import get_engine
from helpline.migrate import alembic_config, upgrade
from helpline.models import Message, Texter

NUMBER = "+15550107777"


def test_sealing_is_randomised_and_opens_with_the_same_key_only() -> None:
    box = vault.Vault(b"k" * 32)
    first, second = box.seal(NUMBER), box.seal(NUMBER)
    assert first != second and NUMBER not in first
    assert box.open(first) == box.open(second) == NUMBER
    with pytest.raises(vault.VaultError):
        vault.Vault(b"o" * 32).open(first)


def test_the_blind_index_is_stable_keyed_and_hides_the_number() -> None:
    box = vault.Vault(b"k" * 32)
    assert box.index(NUMBER) == box.index(f" {NUMBER} ")
    assert box.index(NUMBER) != vault.Vault(b"o" * 32).index(NUMBER)
    assert "5550107777" not in box.index(NUMBER)


def test_comparing_a_sealed_column_by_value_is_refused() -> None:
    with pytest.raises(vault.VaultError, match="blind index"):
        select(Texter).where(Texter.address == NUMBER)


def test_migrating_seals_addresses_stored_in_clear_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vault, "_current", None)  # this test's key, then the suite's again
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'old.sqlite3'}",
        redis_url="redis://127.0.0.1:1/0",
        secret_key="migration-test",
        public_url="http://helpline.test",
        instance_path=tmp_path,
    )
    vault.configure(settings.vault_key)
    command.upgrade(alembic_config(settings.database_url), "0008")
    with get_engine(settings.database_url).begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO texters (id, address, opted_out, created_at) "
                "VALUES (1, :n, false, '2026-01-01')"
            ),
            {"n": NUMBER},
        )
        connection.execute(
            sa.text(
                "INSERT INTO messages (direction, body, from_address, to_address, num_media, "
                "delivery_status, created_at) VALUES "
                "('in', 'hi', :n, '+15005550006', 0, 'received', '2026-01-01'), "
                "('out', 'hello', '+15005550006', :n, 0, 'sent', '2026-01-01')"
            ),
            {"n": NUMBER},
        )
    upgrade(settings)
    engine = get_engine(settings.database_url)
    with engine.connect() as connection:
        raw = connection.execute(sa.text("SELECT * FROM texters, messages")).all()
    assert NUMBER not in repr(raw)
    with sa.orm.Session(engine) as session:
        texter = session.scalars(select(Texter)).one()
        assert texter.address == NUMBER and texter.address_key == vault.index(NUMBER)
        keys = {m.direction: m.texter_key for m in session.scalars(select(Message))}
        assert keys == {"in": vault.index(NUMBER), "out": vault.index(NUMBER)}
