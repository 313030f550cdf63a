"""Risk of harm in a texter's words: a rule set of phrases, variants and common misspellings.

A match makes the conversation urgent and requires the `crisis` skill. Rules are patterns
over the lower-cased text with whitespace collapsed; idioms known to be harmless ("this
homework is killing me", "I'm dying to know") are not matched by any rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CRISIS_SKILL = "crisis"


@dataclass(frozen=True)
class RiskRule:
    category: str
    pattern: str


@dataclass(frozen=True)
class Risk:
    category: str
    matched: str


_SELF = r"(?:my ?self|meself|myslef|mysef|myselfe)"
_DIE = r"(?:die|dye|be dead|not be here|not exist|disappear forever)"

DEFAULT_RULES: tuple[RiskRule, ...] = (
    RiskRule("suicide", r"\bsu+[ie]?c+[ie]*d[ea]l?\b|\bsucidal\b|\bsuicid\w*"),
    RiskRule("suicide", rf"\b(?:kill|killing|end|ending|take|taking) {_SELF}\b"),
    RiskRule("suicide", r"\bkms\b|\bkys\b"),
    RiskRule("suicide", r"\b(?:end|ending|take|taking) (?:my|my own) li(?:fe|ves)\b"),
    RiskRule("suicide", r"\bend (?:it|it all|everything)\b(?! (?:with|between))"),
    RiskRule("suicide", rf"\b(?:want|wanna|going|gonna|ready|plan|planning) (?:to )?{_DIE}\b"),
    RiskRule("suicide", r"\b(?:don'?t|do not|dont) want to (?:live|be alive|wake up)\b"),
    RiskRule(
        "suicide",
        r"\b(?:don'?t|do not|dont) want to (?:be here|exist|be around) any ?more\b"
        r"|\bwish (?:i|i'd) (?:was|were|had) (?:dead|died|never been born)\b"
        r"|\b(?:sleep|go to sleep) and never wake up\b",
    ),
    RiskRule(
        "suicide",
        r"\bbetter off (?:dead|without me)\b|\bno (?:reason|point) (?:to|in) "
        r"(?:live|living|going on)\b",
    ),
    RiskRule("suicide", r"\b(?:hang|hanging|shoot|shooting|drown|drowning) " + _SELF + r"\b"),
    RiskRule("suicide", r"\bwrote (?:a|my) (?:suicide )?note\b|\bgoodbye (?:note|letter)\b"),
    RiskRule("self-harm", r"\bself[- ]?harm\w*|\bself[- ]?injur\w*"),
    RiskRule(
        "self-harm",
        rf"\b(?:cut|cutting|cuttin|burn|burning|hurt|hurting|harm|harming)"
        rf" {_SELF}\b",
    ),
    RiskRule("self-harm", r"\b(?:i|i've|ive|i have|been) (?:started )?cutting\b"),
    RiskRule("overdose", r"\bover ?dos(?:e|ed|ing)\b|\bod'?(?:d|ed|ing)\b"),
    RiskRule(
        "overdose",
        r"\b(?:took|taken|swallowed|take|taking) (?:all|a lot of|a bunch of|too "
        r"many|loads of|the whole (?:bottle|pack) of)? ?(?:my |the |of my )?(?:pills|tablets|"
        r"meds|medication|sleeping pills|paracetamol|tylenol)\b(?! (?:today|this morning"
        r"|as prescribed))",
    ),
    RiskRule(
        "harm from others",
        r"\b(?:he|she|they|my (?:dad|mom|mum|father|mother|"
        r"stepdad|stepmom|husband|wife|boyfriend|girlfriend|partner|brother|uncle))"
        r" (?:hits|hit|beats|beat|hurts|chokes|choked|strangled|raped|touches) me\b",
    ),
    RiskRule(
        "harm from others",
        r"\b(?:going|gonna|threatened|threatening|wants|says he'?ll|"
        r"says she'?ll) (?:to )?kill me\b",
    ),
    RiskRule("harm from others", r"\b(?:raped|sexually (?:assaulted|abused)|molested)\b"),
    RiskRule(
        "harm from others",
        r"\b(?:abus(?:e|ed|es|ing|ive)) (?:me|us)\b|\bbeing abused\b"
        r"|\bnot safe (?:at home|here|with (?:him|her|them))\b",
    ),
)


def normalise(text: str) -> str:
    """Lower case, curly quotes straightened, whitespace collapsed."""
    straight = text.replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(straight.lower().split())


def compile_rules(rules: Iterable[RiskRule]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((rule.category, re.compile(rule.pattern)) for rule in rules)


_DEFAULT = compile_rules(DEFAULT_RULES)


def assess(text: str, rules: Sequence[tuple[str, re.Pattern[str]]] = _DEFAULT) -> Risk | None:
    """The first risk the text shows, with the words that showed it, or None."""
    words = normalise(text)
    for category, pattern in rules:
        found = pattern.search(words)
        if found:
            return Risk(category, found.group(0))
    return None


def is_urgent_answer(text: str, urgent_answers: Iterable[str]) -> bool:
    """Does a reply to the intake question (e.g. "2" or "no" to "are you safe?") mean risk?"""
    answer = normalise(text).strip(" .!")
    return answer in {normalise(a) for a in urgent_answers if a.strip()}


def phrase_rules(phrases: Iterable[str], category: str = "coordinator phrase") -> list[RiskRule]:
    """Rules from plain phrases a coordinator adds ("want to disappear"), matched as whole
    words, case and spacing ignored."""
    rules = []
    for phrase in phrases:
        words = normalise(phrase).split()
        if words:
            rules.append(RiskRule(category, r"\b" + r"\s+".join(map(re.escape, words)) + r"\b"))
    return rules


def rule_set(extra_phrases: Iterable[str] = ()) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The default rules, plus a helpline's own phrases."""
    return _DEFAULT + compile_rules(phrase_rules(extra_phrases))
