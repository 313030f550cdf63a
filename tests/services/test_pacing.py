"""Send pacing and retry backoff: the pure rules."""

from __future__ import annotations

import random

import pytest

from helpline.pacing import (
    DEFAULT_RATES,
    backoff_delays,
    rate_for,
    segments,
    send_cost_ms,
    sender_type,
)


@pytest.mark.parametrize(
    "address,kind",
    [
        ("+15550100000", "long_code"),
        ("+447700900123", "long_code"),
        ("+18005550100", "toll_free"),
        ("+18885550100", "toll_free"),
        ("741741", "short_code"),
        ("whatsapp:+15550100000", "whatsapp"),
    ],
)
def test_sender_type_follows_the_sending_address(address: str, kind: str) -> None:
    assert sender_type(address) == kind


def test_twilio_default_rates_per_sender_type() -> None:
    assert rate_for("+15550100000", {}) == 1
    assert rate_for("+18005550100", {}) == 3
    assert rate_for("741741", {}) == 100
    assert rate_for("whatsapp:+15550100000", {}) == DEFAULT_RATES["whatsapp"] == 10


def test_a_configured_rate_for_one_number_beats_its_type() -> None:
    overrides = {"toll_free": 25.0, "+18005550100": 150.0}
    assert rate_for("+18005550100", overrides) == 150
    assert rate_for("+18665550100", overrides) == 25
    assert rate_for("+15550100000", overrides) == 1


def test_segments_follow_gsm7_and_ucs2_limits() -> None:
    assert segments("a" * 160) == 1
    assert segments("a" * 161) == 2
    assert segments("a" * 306) == 2 and segments("a" * 307) == 3
    assert segments("[" * 80) == 1 and segments("[" * 81) == 2  # extension characters count twice
    assert segments("é" * 160) == 1  # é is in the GSM set
    assert segments("💛" * 35) == 1 and segments("💛" * 36) == 2  # UCS-2: surrogate pairs


def test_a_long_text_occupies_its_sender_for_each_segment() -> None:
    assert send_cost_ms("+15550100000", "hi", {}) == 1000
    assert send_cost_ms("+15550100000", "a" * 200, {}) == 2000
    assert send_cost_ms("+18005550100", "hi", {}) == 333
    assert send_cost_ms("whatsapp:+15550100000", "a" * 2000, {}) == 100


def test_retry_delays_double_up_to_the_cap() -> None:
    delays = backoff_delays(8, random.Random(7), base_s=5, cap_s=600)
    ceilings = [5, 10, 20, 40, 80, 160, 320, 600]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))


def test_retry_delays_are_jittered() -> None:
    """Two jobs failing together draw different waits; the same draw gives the same waits."""
    first = backoff_delays(8, random.Random(1))
    second = backoff_delays(8, random.Random(2))
    assert first != second
    assert all(a != b for a, b in zip(first[2:], second[2:], strict=True))
    assert backoff_delays(8, random.Random(1)) == first
    spread = {backoff_delays(1, random.Random(seed), base_s=60)[0] for seed in range(50)}
    assert len(spread) > 40 and min(spread) >= 30 and max(spread) <= 60
