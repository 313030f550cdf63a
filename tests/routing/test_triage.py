"""The default risk rules: plain words and misspellings match; everyday idioms do not."""

from __future__ import annotations

import pytest

from routing.triage import assess

RISKY = {
    "I want to kill myself": "suicide",
    "i wanna die": "suicide",
    "thinking about suicide": "suicide",
    "feeling sucidal tonight": "suicide",
    "i keep thinking about sucide": "suicide",
    "im going to end it all": "suicide",
    "I want to end my life": "suicide",
    "I don\u2019t want to be alive anymore": "suicide",
    "everyone would be better off without me": "suicide",
    "I don't want to be here anymore": "suicide",
    "i dont want to exist any more": "suicide",
    "i wish i was dead": "suicide",
    "i just want to sleep and never wake up": "suicide",
    "kms": "suicide",
    "i want to kill myslef": "suicide",
    "i've been cutting again": "self-harm",
    "i hurt myself last night": "self-harm",
    "thinking of self harm": "self-harm",
    "i took all my pills": "overdose",
    "I overdosed": "overdose",
    "swallowed a bunch of tablets": "overdose",
    "my dad hits me": "harm from others",
    "he's going to kill me": "harm from others",
    "I was raped": "harm from others",
    "i'm not safe at home": "harm from others",
}

SAFE = [
    "this homework is killing me",
    "I'm dying to know what happens",
    "lol that killed me",
    "I could die of embarrassment",
    "my phone died",
    "I took my meds today",
    "can you take me through it",
    "i want to end it with my boyfriend",
    "I hurt my knee playing football",
    "I need help with my exams",
    "my mum and I had a fight",
    "I don't want to be here at this party",
    "I wish I was there",
]


@pytest.mark.parametrize("text,category", RISKY.items())
def test_risky_words_are_recognised_with_their_category(text: str, category: str) -> None:
    risk = assess(text)
    assert risk is not None and risk.category == category


@pytest.mark.parametrize("text", SAFE)
def test_everyday_idioms_raise_no_alarm(text: str) -> None:
    assert assess(text) is None


def test_case_and_spacing_do_not_hide_risk() -> None:
    assert assess("I   WANT TO\nKILL   MYSELF") is not None


def test_intake_answers_are_matched_whole_and_loosely() -> None:
    from routing.triage import is_urgent_answer

    answers = ["2", "no", "not safe"]
    assert is_urgent_answer(" 2 ", answers)
    assert is_urgent_answer("No.", answers)
    assert is_urgent_answer("NOT SAFE", answers)
    assert not is_urgent_answer("1", answers)
    assert not is_urgent_answer("no idea what to say", answers)


def test_coordinator_phrases_match_as_whole_words() -> None:
    from routing.triage import rule_set

    rules = rule_set(["no way out"])
    risk = assess("honestly there is no  way OUT", rules)
    assert risk is not None and risk.category == "coordinator phrase"
    assert assess("no way outside the house today", rules) is None
