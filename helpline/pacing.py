"""How fast a helpline number may send, and how long to wait after a failed send.

Twilio releases a sender's texts at a fixed rate of message segments per second and queues the
rest; pacing here keeps to that rate across every worker on every machine, so a burst waits in
our queue (where the sweep and the exactly-once claim look after it) rather than in Twilio's.
The rules at the top are pure; `reserve` keeps each sender's next free moment in Redis.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from redis import Redis

# Twilio's default rates, messages (segments) per second per sender, US/Canada.
# Long code 1, toll-free 3, short code 100: Twilio's "Understanding Twilio Rate Limits and
# Message Queues" and "Toll-Free SMS and MMS messaging throughput (MPS)". WhatsApp: 10 text
# messages per second per sender by default (raisable to 50 on request): Twilio's "WhatsApp
# Business Platform with Twilio: Best Practices and FAQs". Raised rates go in TWILIO_SEND_RATES.
DEFAULT_RATES = {"long_code": 1.0, "toll_free": 3.0, "short_code": 100.0, "whatsapp": 10.0}
TOLL_FREE_AREA_CODES = ("800", "833", "844", "855", "866", "877", "888")
# A send whose moment is at most MAX_WAIT_S off waits for it in the worker; a later one goes back
# on the queue, scheduled LEAD_S early (RQ's scheduler works in whole seconds) to wait out the
# rest. A text that comes back for the moment it holds waits up to HELD_MAX_WAIT_S, so a worker
# clock a little ahead of Redis's does not send it round again.
MAX_WAIT_S = 2.0
LEAD_S = 1.0
HELD_MAX_WAIT_S = 4.0

# GSM 03.38: the basic set (one septet each) and the extension set (two septets each).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


def sender_type(address: str) -> str:
    """long_code, toll_free, short_code or whatsapp, from the sending address."""
    if address.startswith("whatsapp:"):
        return "whatsapp"
    if address.isdigit() and 3 <= len(address) <= 8:
        return "short_code"
    if address.startswith("+1") and address[2:5] in TOLL_FREE_AREA_CODES:
        return "toll_free"
    return "long_code"


def rate_for(address: str, overrides: Mapping[str, float]) -> float:
    """Messages per second for this sender: its own configured rate, else its type's."""
    kind = sender_type(address)
    return overrides.get(address) or overrides.get(kind) or DEFAULT_RATES[kind]


def segments(body: str) -> int:
    """How many SMS segments Twilio splits `body` into (GSM-7 when it can, else UCS-2)."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in body):
        septets = sum(2 if c in _GSM_EXTENDED else 1 for c in body)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def send_cost_ms(address: str, body: str, overrides: Mapping[str, float]) -> int:
    """How long this text occupies its sender: one interval per segment (WhatsApp: one)."""
    parts = 1 if sender_type(address) == "whatsapp" else segments(body)
    return max(1, round(parts * 1000 / rate_for(address, overrides)))


def backoff_delays(
    attempts: int, rng: random.Random, base_s: float = 5.0, cap_s: float = 600.0
) -> list[float]:
    """Waits before each retry: doubling from `base_s` up to `cap_s`, each drawn at random from
    its upper half ("equal jitter"), so texts that failed together do not retry together."""
    delays = []
    for attempt in range(attempts):
        ceiling = min(cap_s, base_s * 2**attempt)
        delays.append(round(rng.uniform(ceiling / 2, ceiling), 3))
    return delays


@dataclass(frozen=True)
class Slot:
    at_ms: int  # when the text may go, on Redis's clock
    now_ms: int  # Redis's clock when the slot was read
    near: bool  # near enough to wait for in the worker: the moment is this send's now

    @property
    def wait_s(self) -> float:
        return max(0.0, (self.at_ms - self.now_ms) / 1000)

    @property
    def come_back_in_s(self) -> float:
        return max(0.0, self.wait_s - LEAD_S)


# KEYS[1]: the sender's next free moment; KEYS[2]: the moment this text holds, if any.
# ARGV[1]: the text's cost (ms); ARGV[2], ARGV[3]: how long a worker waits in place for a new
# moment and for a held one (ms). A text keeps its moment while it waits on the queue (a second
# job for the same text is given the same one) and gives it up when it is near enough to go.
# On one Redis clock (TIME), so workers on many machines agree.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local slot = tonumber(redis.call('GET', KEYS[2]) or '-1')
local patience = tonumber(ARGV[3])
if slot < 0 then
  local free = tonumber(redis.call('GET', KEYS[1]) or '0')
  slot = math.max(now, free)
  patience = tonumber(ARGV[2])
  local after = slot + tonumber(ARGV[1])
  redis.call('SET', KEYS[1], after, 'PX', after - now + 60000)
  redis.call('SET', KEYS[2], slot, 'PX', slot - now + 600000)
end
if slot - now <= patience then
  redis.call('DEL', KEYS[2])
  return {slot, now, 1}
end
return {slot, now, 0}
"""


def reserve(
    redis: Redis, texts: Sequence[tuple[str, int, int]], patience_s: float = MAX_WAIT_S
) -> list[Slot]:
    """For each (sender, message id, cost in ms), in order, the moment the text is planned to
    go from its sender, shared by every worker; `near` when a new moment is at most
    `patience_s` off (the caller waits for it and sends). One round trip for them all."""
    limits = (int(patience_s * 1000), int(HELD_MAX_WAIT_S * 1000))
    with redis.pipeline(transaction=False) as pipe:
        for sender, message_id, cost_ms in texts:
            keys = (
                f"helpline:pace:{{{sender}}}:next",
                f"helpline:pace:{{{sender}}}:text:{message_id}",
            )
            pipe.eval(_RESERVE, 2, *keys, cost_ms, *limits)
        answers = pipe.execute()
    return [Slot(int(at_ms), int(now_ms), bool(near)) for at_ms, now_ms, near in answers]


# KEYS[1]: the earliest moment the sender's next text may actually go. ARGV[1]: this text's cost
# (ms); ARGV[2]: its planned moment. Taken just before the request to Twilio: a text that comes
# back late for its planned moment spaces the ones after it instead of going in a bunch.
_GATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local go = math.max(now, tonumber(ARGV[2]), tonumber(redis.call('GET', KEYS[1]) or '0'))
local after = go + tonumber(ARGV[1])
redis.call('SET', KEYS[1], after, 'PX', after - now + 60000)
return go - now
"""


def gate(redis: Redis, sender: str, cost_ms: int, planned: Slot) -> float:
    """Seconds to wait before this text goes: its planned moment, or later if the text before
    it went late."""
    key = f"helpline:pace:{{{sender}}}:gate"
    return int(redis.eval(_GATE, 1, key, cost_ms, planned.at_ms)) / 1000
