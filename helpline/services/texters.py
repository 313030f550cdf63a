"""How staff see a texter: by a stable alias, never by their number."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from helpline.models import Texter

_WORDS = (
    "Amber",
    "Birch",
    "Cedar",
    "Dune",
    "Elm",
    "Fern",
    "Grove",
    "Heath",
    "Iris",
    "Juniper",
    "Kestrel",
    "Linden",
    "Maple",
    "Nettle",
    "Olive",
    "Pine",
    "Quartz",
    "Rowan",
    "Sage",
    "Thyme",
    "Umber",
    "Vale",
    "Willow",
    "Yarrow",
)


def alias(texter_id: int, secret: str) -> str:
    """A stable, non-reversible alias such as "Rowan 4821"; it reveals nothing of the number."""
    digest = hmac.new(secret.encode(), f"texter:{texter_id}".encode(), hashlib.sha256).digest()
    word = _WORDS[digest[0] % len(_WORDS)]
    number = int.from_bytes(digest[1:4], "big") % 10000
    return f"{word} {number:04d}"


def masked(address: str) -> str:
    """A number shown to coordinators with its middle hidden: +1555•••4567."""
    prefix, _, number = address.rpartition(":")
    shown = number[:5] + "•••" + number[-4:] if len(number) > 9 else "•••"
    return f"{prefix}:{shown}" if prefix else shown


def is_blocked(texter: Texter, now: datetime) -> bool:
    """Blocked by a coordinator, and the block has not run out."""
    if texter.blocked_at is None:
        return False
    return texter.blocked_until is None or texter.blocked_until > now
