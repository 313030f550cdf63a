"""Rotating TEXTER_DATA_KEY: every sealed address opened with the old key and sealed again
with the current one, and every blind index computed again, batch by batch.

Run with the service stopped (see README, "Rotating the texter data key"): while it runs,
a lookup by the new blind index would not find a texter still indexed under the old one.
Safe to stop and run again: a value that already opens with the current key is only
re-indexed, never sealed twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Text, select, type_coerce, update
from sqlalchemy.orm import Session

from helpline import vault
from helpline.models import Message, Texter
from helpline.services.retention import ERASED

BATCH = 500


@dataclass
class Rekeyed:
    texters: int = 0
    messages: int = 0  # rows whose sealed values were opened with the old key


def rekey(session: Session, old: vault.Vault, batch: int = BATCH) -> Rekeyed:
    """Seal every texter address and text address under the current key; commit per batch.

    Refuses (VaultError, nothing changed in that batch) a value that opens with neither key.
    """
    new = vault.current()
    done = Rekeyed()
    after = 0
    while True:
        rows = session.execute(
            select(Texter.id, type_coerce(Texter.address, Text))
            .where(Texter.id > after)
            .order_by(Texter.id)
            .limit(batch)
        ).all()
        if not rows:
            break
        for texter_id, sealed in rows:
            address, was_old = _open(sealed, new, old)
            done.texters += was_old
            session.execute(
                update(Texter)
                .where(Texter.id == texter_id)
                .values(address=address, address_key=new.index(address))
            )
        after = rows[-1][0]
        session.commit()
    after = 0
    while True:
        rows = session.execute(
            select(
                Message.id,
                Message.direction,
                Message.texter_key,
                type_coerce(Message.from_address, Text),
                type_coerce(Message.to_address, Text),
            )
            .where(Message.id > after)
            .order_by(Message.id)
            .limit(batch)
        ).all()
        if not rows:
            break
        for message_id, direction, texter_key, sealed_from, sealed_to in rows:
            from_address, from_old = _open(sealed_from, new, old)
            to_address, to_old = _open(sealed_to, new, old)
            done.messages += from_old or to_old
            texter_end = from_address if direction == "in" else to_address
            key = texter_key if texter_key == ERASED else new.index(texter_end)
            session.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(from_address=from_address, to_address=to_address, texter_key=key)
            )
        after = rows[-1][0]
        session.commit()
    return done


def _open(sealed: str, new: vault.Vault, old: vault.Vault) -> tuple[str, bool]:
    """The address, and whether it was sealed with the old key."""
    try:
        return new.open(sealed), False
    except vault.VaultError:
        return old.open(sealed), True
