"""Texters' addresses at rest: sealed with AES-GCM, found again by a keyed hash (blind index).

A phone number or WhatsApp id is never stored in clear. Each sealed value carries a fresh
nonce, so the same number seals differently every time; lookups go through `index`, an
HMAC of the address under a second key. Both keys come from one master key
(`TEXTER_DATA_KEY`) through HKDF, so one secret is all an operator keeps.

The vault is configured once per process (app, worker, migration, CLI) from its settings;
the column type below seals and opens through it transparently.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Dialect, Text
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.types import TypeDecorator

VERSION = "v1"  # a prefix on every sealed value, so a later key can be told apart
_NONCE_BYTES = 12
_PURPOSE = b"texter-address"


class VaultError(Exception):
    """The vault is not configured, or a sealed value does not open with its key."""


class Vault:
    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise VaultError("the texter data key must be 32 bytes")
        self._aead = AESGCM(_derive(master_key, b"helpline seal v1"))
        self._index_key = _derive(master_key, b"helpline blind index v1")

    def seal(self, address: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, address.encode(), _PURPOSE)
        return f"{VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str) -> str:
        version, _, payload = sealed.partition(".")
        if version != VERSION:
            raise VaultError(f"sealed with an unknown key version {version!r}")
        try:
            raw = base64.urlsafe_b64decode(payload)
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _PURPOSE).decode()
        except (InvalidTag, ValueError) as exc:
            raise VaultError("a sealed address does not open with this TEXTER_DATA_KEY") from exc

    def index(self, address: str) -> str:
        """The blind index: equal for equal addresses, meaningless without the key."""
        return hmac.new(self._index_key, address.strip().encode(), hashlib.sha256).hexdigest()


def _derive(master_key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master_key)


_current: Vault | None = None


def configure(master_key: bytes) -> Vault:
    global _current
    _current = Vault(master_key)
    return _current


def current() -> Vault:
    if _current is None:
        raise VaultError("the vault is not configured: call vault.configure first")
    return _current


def is_configured() -> bool:
    return _current is not None


def index(address: str) -> str:
    return current().index(address)


class SealedAddress(TypeDecorator[str]):
    """A column holding an address sealed at rest and open in Python."""

    impl = Text
    cache_ok = True

    class comparator_factory(TypeDecorator.Comparator[str]):  # noqa: N801 (SQLAlchemy's name)
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            # Sealing is randomised: testing against a value would silently match nothing.
            # (Column against column stays allowed: SQLAlchemy itself compares columns.)
            by_value = any(
                not isinstance(o, ColumnElement) or isinstance(o, BindParameter) for o in other
            )
            if by_value and op in (
                operators.eq,
                operators.ne,
                operators.in_op,
                operators.not_in_op,
            ):
                raise VaultError("compare sealed addresses by their blind index, not by value")
            return super().operate(op, *other, **kwargs)

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else current().seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else current().open(value)
