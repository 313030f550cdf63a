"""Twilio's opt-out and opt-in keywords, matched as Twilio matches them: the whole text."""

from __future__ import annotations

OPT_OUT = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "STOP ALL"}
)
OPT_IN = frozenset({"START", "UNSTOP", "YES"})
# Ours, not Twilio's: a texter asking for everything they sent to be erased.
ERASE = frozenset({"DELETE", "DELETE ME", "ERASE"})


def keyword(body: str) -> str:
    return " ".join(body.upper().split())


def is_opt_out(body: str) -> bool:
    return keyword(body) in OPT_OUT


def is_opt_in(body: str) -> bool:
    return keyword(body) in OPT_IN


def is_erase(body: str) -> bool:
    return keyword(body) in ERASE
