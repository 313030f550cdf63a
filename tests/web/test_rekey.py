"""`flask --app wsgi rotate-texter-key`: every sealed address moves to the new key, every
blind index with it, and a returning texter is still recognised afterwards."""

from __future__ import annotations

import base64
import os
from dataclasses import replace

from sqlalchemy import Text, func, select, type_coerce

from helpline import vault
from helpline.app import create_app
from helpline.models import Conversation, Message, Texter
from tests.support import Helpline

TEXTERS = ("+15550207001", "+15550207002")


def rotate(helpline: Helpline, old_key: bytes | None, new_key: bytes) -> tuple[int, str]:
    app = create_app(replace(helpline.settings, texter_data_key=new_key), TESTING=True)
    env = {} if old_key is None else {"OLD_TEXTER_DATA_KEY": base64.b64encode(old_key).decode()}
    result = app.test_cli_runner().invoke(args=["rotate-texter-key"], env=env)
    return result.exit_code, result.output


def raw(helpline: Helpline) -> list[str]:
    texters = select(type_coerce(Texter.address, Text))
    messages = select(type_coerce(Message.from_address, Text)).union_all(
        select(type_coerce(Message.to_address, Text))
    )
    return [*helpline.db.scalars(texters), *helpline.db.scalars(messages)]


def test_rotation_reseals_everything_and_a_returning_texter_is_recognised(
    helpline: Helpline,
) -> None:
    helpline.supporter(max_conversations=5)
    for number in TEXTERS:
        helpline.text_in("hello", from_=number)
    helpline.run_jobs()
    old_key, new_key = helpline.settings.vault_key, os.urandom(32)
    old = vault.Vault(old_key)

    code, output = rotate(helpline, old_key, new_key)
    assert code == 0, output
    assert "re-sealed 2 texters" in output
    helpline.db.expire_all()
    new = vault.Vault(new_key)
    sealed = raw(helpline)
    assert sealed and all(new.open(value) for value in sealed)
    assert not any(_opens(old, value) for value in sealed)
    for texter in helpline.db.scalars(select(Texter)):
        assert texter.address in TEXTERS and texter.address_key == new.index(texter.address)
        keys = helpline.db.scalars(select(Message.texter_key).where(Message.texter_key != "erased"))
        assert texter.address_key in set(keys)

    helpline.text_in("it's me again", from_=TEXTERS[0])  # the vault now holds the new key
    helpline.run_jobs()
    assert helpline.db.scalar(select(func.count()).select_from(Texter)) == 2
    assert helpline.db.scalar(select(func.count()).select_from(Conversation)) == 2

    code, output = rotate(helpline, old_key, new_key)  # again: nothing left on the old key
    assert code == 0 and "re-sealed 0 texters and 0 texts" in output


def test_a_wrong_old_key_changes_nothing_and_says_why(helpline: Helpline) -> None:
    helpline.text_in("hello", from_=TEXTERS[0])
    helpline.run_jobs()
    before = raw(helpline)
    code, output = rotate(helpline, os.urandom(32), os.urandom(32))
    assert code != 0 and "neither key opens it" in output and "Traceback" not in output
    helpline.db.expire_all()
    assert raw(helpline) == before


def test_the_old_key_must_be_given(helpline: Helpline) -> None:
    code, output = rotate(helpline, None, os.urandom(32))
    assert code != 0 and "OLD_TEXTER_DATA_KEY" in output


def _opens(box: vault.Vault, sealed: str) -> bool:
    try:
        box.open(sealed)
    except vault.VaultError:
        return False
    return True
