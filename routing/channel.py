"""Channel rules: WhatsApp refuses free-form texts more than 24 hours after the texter's last
message (Twilio error 63016); SMS has no such window."""

from __future__ import annotations

from datetime import datetime, timedelta

WHATSAPP_WINDOW = timedelta(hours=24)


def reply_window_closes_at(channel: str, last_inbound_at: datetime | None) -> datetime | None:
    """When free-form replies stop being accepted; None when the channel has no window."""
    if channel != "whatsapp" or last_inbound_at is None:
        return None
    return last_inbound_at + WHATSAPP_WINDOW


def is_reply_window_open(channel: str, last_inbound_at: datetime | None, now: datetime) -> bool:
    """May a free-form text be sent to this texter now?"""
    if channel != "whatsapp":
        return True
    return last_inbound_at is not None and now < last_inbound_at + WHATSAPP_WINDOW
