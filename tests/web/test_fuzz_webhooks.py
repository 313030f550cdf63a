"""Hypothesis against Twilio's webhooks with correctly signed forms: whatever a signed form
holds, the answer is a 2xx or a 4xx with a reason, never a 500; and a text answered 200 is
stored exactly as Twilio sent it.

Derandomized, so CI sees the same forms every time; the example counts keep this to seconds.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from helpline import webhooks
from helpline.models import Message
from helpline.services.outbound import STATUS_RANK
from tests.support import HELPLINE_NUMBER, Helpline

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Anything a form field can carry, with the troublemakers made likely: control characters, an
# RTL override, markup, emoji, digits that are not ASCII; and NUL, in short texts (a long text
# with a NUL somewhere would be refused, and hide whatever else it carries).
troublemakers = ["\x1b", "\r", "\u202e", "<", "&", "😢", "²", "٣", "\ufeff"]
clean = st.one_of(
    st.characters(codec="utf-8", exclude_characters="\x00"), st.sampled_from(troublemakers)
)
anything = st.one_of(
    st.text(clean, max_size=60), st.text(st.one_of(clean, st.just("\x00")), max_size=8)
)
sids = st.one_of(st.from_regex(r"SM[0-9a-f]{32}", fullmatch=True), anything)
addresses = st.one_of(
    st.from_regex(r"\+1555[0-9]{7}", fullmatch=True),
    st.from_regex(r"whatsapp:\+4477[0-9]{8}", fullmatch=True),
    anything,
)
bodies = st.one_of(st.text(clean, max_size=1600), anything)
numbers = st.one_of(
    st.integers().map(str),
    st.sampled_from(["", "²", "٣", " 2 ", "-1", "1_0", "9" * 30, "30001"]),
    anything,
)
extras = st.dictionaries(
    st.text(min_size=1, max_size=20).filter(lambda k: k not in ("AccountSid", "MessageSid")),
    anything,
    max_size=4,
)


@FUZZ
@given(
    sid=sids,
    from_=addresses,
    to=st.one_of(st.just(HELPLINE_NUMBER), addresses),
    body=bodies,
    num_media=numbers,
    extra=extras,
)
@example(  # more media than a column holds: Twilio never sends it, but it is signed
    sid="SM" + "a" * 32,
    from_="+15550001234",
    to=HELPLINE_NUMBER,
    body="hi",
    num_media="9" * 30,
    extra={},
)
@example(  # a NUL in a field the helpline does not keep: the text is kept
    sid="SM" + "b" * 32,
    from_="+15550001234",
    to=HELPLINE_NUMBER,
    body="hi",
    num_media="0",
    extra={"ProfileName": "Sam\x00"},
)
def test_any_signed_inbound_form_is_stored_exactly_or_refused_with_a_reason(
    helpline: Helpline,
    sid: str,
    from_: str,
    to: str,
    body: str,
    num_media: str,
    extra: dict[str, str],
) -> None:
    form = {
        **extra,
        "MessageSid": sid,
        "AccountSid": helpline.settings.twilio_account_sid or "",
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": num_media,
    }
    before = stored_body(helpline, sid)  # a MessageSid seen before: Twilio retrying
    answer = helpline.post_signed("/twilio/messages", form)
    assert answer.status_code in (200, 400), answer.get_data(as_text=True)
    if answer.status_code == 400:
        assert answer.get_data(as_text=True).strip(), "a 400 says why"
        return
    assert stored_body(helpline, sid) == (body if before is None else before)


def stored_body(helpline: Helpline, sid: str) -> str | None:
    if "\x00" in sid:
        return None  # no such sid can be stored, and PostgreSQL cannot even look for one
    helpline.look_again()
    return helpline.db.scalars(select(Message.body).where(Message.sid == sid)).one_or_none()


@FUZZ
@given(
    known=st.booleans(),
    sid=sids,
    status=st.one_of(st.sampled_from(sorted(STATUS_RANK)), anything),
    error_code=numbers,
    extra=extras,
)
@example(known=True, sid="", status="delivered", error_code="²", extra={})  # a digit, not 0-9
@example(known=False, sid="SM\x00", status="delivered", error_code="", extra={})
def test_any_signed_status_callback_is_applied_or_refused_with_a_reason(
    helpline: Helpline, known: bool, sid: str, status: str, error_code: str, extra: dict[str, str]
) -> None:
    if known:
        sid = _an_outbound_sid(helpline)
    form = {
        **extra,
        "MessageSid": sid,
        "MessageStatus": status,
        "ErrorCode": error_code,
        "AccountSid": helpline.settings.twilio_account_sid or "",
    }
    answer = helpline.post_signed("/twilio/status", form)
    assert answer.status_code in (204, 400), answer.get_data(as_text=True)


def _an_outbound_sid(helpline: Helpline) -> str:
    """The sid of a text the helpline sent (made once: a texter writes, Sam is connected)."""
    helpline.look_again()
    sent = helpline.db.scalars(select(Message.sid).where(Message.direction == "out")).first()
    if sent is None:
        helpline.supporter()
        helpline.text_in("hello")
        helpline.run_jobs()
        sent = helpline.db.scalars(select(Message.sid).where(Message.direction == "out")).first()
    assert sent is not None
    return sent


@settings(max_examples=300, derandomize=True, database=None)
@given(
    url=st.text(clean, max_size=80),
    form=st.dictionaries(st.text(clean, max_size=20), anything, max_size=8),
    token=st.text(clean, min_size=1, max_size=40),
)
def test_the_webhooks_signature_is_the_one_twilios_library_computes(
    url: str, form: dict[str, str], token: str
) -> None:
    assert webhooks.signature_of(token, url, form) == RequestValidator(token).compute_signature(
        url, form
    )
