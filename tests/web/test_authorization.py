"""Every route, every method, as everyone: only what a role may do succeeds.

The table below is the rule. Its columns are the callers: nobody signed in (`anonymous`),
Sam, a supporter calling on Sam's own things (`supporter`), Ivy, another supporter calling on
Sam's things (`other`), and Casey (`coordinator`). Webhooks have a fifth caller, Twilio, whose
requests carry a valid signature. Path variables are Sam's real ids: a conversation Sam holds,
a shift of Sam's, a handoff offered to Sam, Sam's own record.

A route the app has and the table lacks fails the walk: a new route needs a row here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.test import TestResponse

from helpline import settings_help
from helpline.app import create_app
from helpline.live import feed
from helpline.models import CannedResponse, utcnow
from helpline.services import blocking, calendar_feed, canned, invites, settings
from tests.support import PASSWORD, Helpline, texter_number
from tests.web.walk import ROLES, Answer, Call, Prepare, World, inbound_form, redirect, refused
from tests.web.walk import unique as fresh_name

OK, CREATED, ACCEPTED, NO_CONTENT = Answer(200), Answer(201), Answer(202), Answer(204)
NO_TOKEN, FORBIDDEN, NOT_FOUND, CONFLICT = refused(401), refused(403), refused(404), refused(409)
LOGIN = Answer(302, "/login", refused=True)  # a web page sends a stranger to sign in
INBOX = redirect("/inbox")
THREAD = redirect("/inbox/conversations/")
NOT_OFFERED = Answer(302, "/inbox", refused=True)  # "no longer offered to you", nothing done
UNSIGNED = refused(403)
PHONE = redirect("/dev/phone")  # a webhook without Twilio's signature, whoever sends it


@dataclass(frozen=True)
class Access:
    """One route and method: the answer for each caller, and what to send."""

    anonymous: Answer
    supporter: Answer
    other: Answer
    coordinator: Answer
    prepare: Prepare = lambda w, fresh: Call()
    twilio: Answer | None = None

    def answer(self, role: str) -> Answer:
        found: Answer | None = getattr(self, role)
        assert found is not None
        return found


def conversation(**body: object) -> Prepare:
    """Sam's conversation; a fresh one when the call may change it."""
    return lambda w, fresh: Call({"conversation_id": w.conversation(fresh)}, json=body)


def conversation_form(**form: str) -> Prepare:
    return lambda w, fresh: Call({"conversation_id": w.conversation(fresh)}, form=form)


def offer(form: bool = False) -> Prepare:
    """A conversation Kim is handing to Sam, waiting for Sam to accept or decline."""
    return lambda w, fresh: Call({"conversation_id": w.offer(fresh)}, form={} if form else None)


def sams_record(**body: object) -> Prepare:
    return lambda w, fresh: Call({"user_id": w.sam.id}, json=body)


def sams_shift(changes: bool = False, move: bool = False) -> Prepare:
    def prepare(w: World, fresh: bool) -> Call:
        tomorrow = w.tomorrow()
        body: dict[str, object] = {"occurrence": tomorrow.isoformat()}
        if move:
            body["starts_at"] = (tomorrow.replace(hour=11)).isoformat()
            body["ends_at"] = (tomorrow.replace(hour=15)).isoformat()
        return Call({"shift_id": w.shift(fresh)}, json=body if changes else None)

    return prepare


def program(**body: object) -> Prepare:
    return lambda w, fresh: Call({"program_id": w.program(fresh)}, json=body)


def canned_response(**body: object) -> Prepare:
    """A canned response of its own for each call (a delete must not starve the next one)."""

    def prepare(w: World, fresh: bool) -> Call:
        h = w.helpline
        h.look_again()
        row = canned.save(h.db, CannedResponse(), {"title": "Hello", "body": "Hi"}, utcnow())
        h.db.commit()
        return Call({"canned_id": row.id}, json=body)

    return prepare


def new_shift(w: World, fresh: bool) -> Call:
    tomorrow = w.tomorrow()
    return Call(
        json={
            "supporter_id": w.sam.id,
            "starts_at": tomorrow.replace(hour=18).isoformat(),
            "ends_at": tomorrow.replace(hour=22).isoformat(),
        }
    )


def new_supporter(w: World, fresh: bool) -> Call:
    name = fresh_name()
    return Call(json={"email": f"{name}@example.org", "name": name, "password": PASSWORD})


def sams_credentials(form: bool) -> Prepare:
    def prepare(w: World, fresh: bool) -> Call:
        credentials = {"email": w.sam.email, "password": PASSWORD}
        return Call(form=credentials, fresh_session=True) if form else Call(json=credentials)

    return prepare


def status_callback(w: World, fresh: bool) -> Call:
    form = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
    return Call(form={**form, "AccountSid": w.helpline.settings.twilio_account_sid or ""})


def blocked_texter(w: World, fresh: bool) -> Call:
    """A texter Casey blocked (a fresh one each time: unblocking changes it)."""
    h = w.helpline
    h.look_again()
    texter = blocking.texter_for_number(h.db, texter_number(), utcnow())
    blocking.block(h.db, texter, "abuse", None, w.casey, utcnow())
    h.db.commit()
    return Call({"texter_id": texter.id})


def short_streams(w: World, fresh: bool) -> Call:
    """The live event stream, ended after a moment so the walk can read it whole."""
    w.app.config["LIVE_TIMING"] = feed.Timing(lifetime_s=0.2, heartbeat_s=0.1)
    return Call()


def reassign_to_ivy(w: World, fresh: bool) -> Call:
    """Sam's conversation, handed to Ivy by whoever may."""
    return Call({"conversation_id": w.conversation(fresh)}, form={"supporter_id": str(w.ivy.id)})


def new_person_form(w: World, fresh: bool) -> Call:
    name = fresh_name()
    return Call(form={"email": f"{name}@example.org", "name": name, "password": PASSWORD})


def someone_to_deactivate(w: World, fresh: bool) -> Call:
    """A supporter made for the purpose (deactivating Sam would end the walk)."""
    person = w.helpline.supporter(fresh_name(), on_shift=False)
    return Call({"user_id": person.id}, form={})


def shift_form(w: World, fresh: bool) -> Call:
    day = w.tomorrow().date().isoformat()
    return Call(
        form={"supporter_id": str(w.ivy.id), "day": day, "starts": "06:00", "ends": "07:00"}
    )


def routing_form(w: World, fresh: bool) -> Call:
    """The routing settings form as the page shows the defaults: nothing changes."""
    form = {}
    for group in settings_help.ROUTING:
        for f in group.fields:
            value = settings.DEFAULTS[f.key]
            form[f.key] = str(value // settings_help.UNITS[f.unit] if f.unit else value)
    return Call(form=form)


def form(**fields: str) -> Prepare:
    return lambda w, fresh: Call(form=fields)


def program_form(delete: bool = False) -> Prepare:
    """A program of its own for each call that may change (or delete) it."""
    fields = {} if delete else {"name": fresh_name(), "numbers": "", "language": "es"}
    return lambda w, fresh: Call({"program_id": w.program(fresh)}, form=fields)


def canned_form(**fields: str) -> Prepare:
    def prepare(w: World, fresh: bool) -> Call:
        call = canned_response()(w, fresh)
        return Call(call.path, form=fields)

    return prepare


def sams_occurrence(w: World, fresh: bool) -> Call:
    return Call({"shift_id": w.shift(True)}, form={"occurrence": w.tomorrow().isoformat()})


def sams_move(w: World, fresh: bool) -> Call:
    """Sam's shift tomorrow, moved an hour later the same day."""
    tomorrow = w.tomorrow()
    form = {"occurrence": tomorrow.isoformat(), "day": tomorrow.date().isoformat()}
    return Call({"shift_id": w.shift(True)}, form={**form, "starts": "10:00", "ends": "14:00"})


def sams_feed(w: World, fresh: bool) -> Call:
    """Sam's calendar feed, by a token made for this call: the token is the only credential."""
    h = w.helpline
    h.look_again()
    token = calendar_feed.reset_token(h.db, w.sam, w.sam, utcnow())
    h.db.commit()
    return Call({"token": token})


def invitation(password: str | None = None) -> Prepare:
    """A fresh invite link (and, to accept it, a password chosen twice)."""

    def prepare(w: World, fresh: bool) -> Call:
        h = w.helpline
        h.look_again()
        name = fresh_name()
        _, token = invites.invite(h.db, f"{name}@example.org", name, w.casey, utcnow())
        h.db.commit()
        form = {"password": password, "confirm": password} if password else None
        return Call({"token": token}, form=form)

    return prepare


def someone_invited(w: World, fresh: bool) -> Call:
    h = w.helpline
    h.look_again()
    name = fresh_name()
    person, _ = invites.invite(h.db, f"{name}@example.org", name, w.casey, utcnow())
    h.db.commit()
    return Call({"user_id": person.id}, form={})


API = "/api/v1"
CONVERSATION = API + "/conversations/<int:conversation_id>"
SHIFT = API + "/shifts/<int:shift_id>"
SUPPORTER = API + "/supporters/<int:user_id>"
PROGRAM = API + "/programs/<int:program_id>"
CANNED = API + "/canned-responses/<int:canned_id>"
THREAD_PAGE = "/inbox/conversations/<int:conversation_id>"
REASSIGN = "/console/conversations/<int:conversation_id>/reassign"
CONSOLE, ROSTER = redirect("/console"), redirect("/console/roster")
CALENDAR = redirect("/console/calendar")
JOBS = redirect("/console/jobs")
FEED_LINK = "/console/roster/<int:user_id>/calendar-feed"
TEXTS, CANNED_PAGES = redirect("/console/texts"), redirect("/console/canned")
PROGRAM_PAGE = "/console/programs/<int:program_id>"
CANNED_PAGE = "/console/canned/<int:canned_id>"

#         anonymous  supporter  other      coordinator  what to send
ROUTES: dict[tuple[str, str], Access] = {
    # The JSON API -------------------------------------------------------------------------
    ("GET", API + "/health"): Access(OK, OK, OK, OK),
    ("POST", API + "/tokens"): Access(CREATED, CREATED, CREATED, CREATED, sams_credentials(False)),
    ("GET", API + "/supporters"): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, OK),
    ("POST", API + "/supporters"): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, CREATED, new_supporter),
    ("GET", SUPPORTER): Access(NO_TOKEN, OK, FORBIDDEN, OK, sams_record()),
    ("PATCH", SUPPORTER): Access(
        NO_TOKEN, FORBIDDEN, FORBIDDEN, OK, sams_record(name="Sam Rivers")
    ),
    ("PUT", SUPPORTER + "/status"): Access(
        NO_TOKEN, OK, FORBIDDEN, OK, sams_record(status="available")
    ),
    ("GET", API + "/shifts"): Access(
        NO_TOKEN, OK, FORBIDDEN, OK, lambda w, fresh: Call(query={"supporter_id": w.sam.id})
    ),
    ("POST", API + "/shifts"): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, CREATED, new_shift),
    ("DELETE", SHIFT): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, NO_CONTENT, sams_shift()),
    ("POST", SHIFT + "/cancel"): Access(
        NO_TOKEN, FORBIDDEN, FORBIDDEN, OK, sams_shift(changes=True)
    ),
    ("POST", SHIFT + "/move"): Access(
        NO_TOKEN, FORBIDDEN, FORBIDDEN, CREATED, sams_shift(changes=True, move=True)
    ),
    ("GET", API + "/settings"): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, OK),
    ("PATCH", API + "/settings"): Access(
        NO_TOKEN, FORBIDDEN, FORBIDDEN, OK, lambda w, fresh: Call(json={"urgent_weight": 2})
    ),
    ("GET", API + "/programs"): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, OK),
    ("POST", API + "/programs"): Access(
        NO_TOKEN, FORBIDDEN, FORBIDDEN, CREATED, lambda w, fresh: Call(json={"name": fresh_name()})
    ),
    ("GET", PROGRAM): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, OK, program()),
    ("PATCH", PROGRAM): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, OK, program(language="es")),
    ("DELETE", PROGRAM): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, NO_CONTENT, program()),
    ("GET", API + "/canned-responses"): Access(NO_TOKEN, OK, OK, OK),
    ("POST", API + "/canned-responses"): Access(
        NO_TOKEN,
        FORBIDDEN,
        FORBIDDEN,
        CREATED,
        lambda w, fresh: Call(json={"title": "Welcome", "body": "I'm {supporter_first_name}."}),
    ),
    ("PATCH", CANNED): Access(
        NO_TOKEN, FORBIDDEN, FORBIDDEN, OK, canned_response(title="Good evening")
    ),
    ("DELETE", CANNED): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, NO_CONTENT, canned_response()),
    ("GET", API + "/queue"): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, OK),
    ("GET", API + "/conversations"): Access(NO_TOKEN, OK, OK, OK),
    ("GET", CONVERSATION): Access(NO_TOKEN, OK, FORBIDDEN, OK, conversation()),
    ("POST", CONVERSATION + "/messages"): Access(
        NO_TOKEN, ACCEPTED, FORBIDDEN, FORBIDDEN, conversation(body="hi")
    ),
    ("POST", CONVERSATION + "/transfer"): Access(
        NO_TOKEN, OK, FORBIDDEN, OK, conversation(skill="general", note="over to you")
    ),
    ("POST", CONVERSATION + "/close"): Access(NO_TOKEN, OK, FORBIDDEN, OK, conversation()),
    ("POST", CONVERSATION + "/escalate"): Access(
        NO_TOKEN, OK, FORBIDDEN, OK, conversation(note="talked of a plan")
    ),
    ("POST", CONVERSATION + "/notes"): Access(
        NO_TOKEN, CREATED, FORBIDDEN, CREATED, conversation(note="likes short replies")
    ),
    # Only the supporter a handoff is offered to may take it or turn it down.
    ("POST", CONVERSATION + "/accept"): Access(NO_TOKEN, OK, FORBIDDEN, CONFLICT, offer()),
    ("POST", CONVERSATION + "/decline"): Access(NO_TOKEN, OK, FORBIDDEN, CONFLICT, offer()),
    # Coordinators' oversight: blocks, the audit log, failed jobs; /metrics needs its token.
    ("POST", CONVERSATION + "/block"): Access(
        NO_TOKEN, FORBIDDEN, FORBIDDEN, OK, conversation(reason="abusive texts")
    ),
    ("GET", API + "/blocked"): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, OK),
    ("POST", API + "/blocked"): Access(
        NO_TOKEN,
        FORBIDDEN,
        FORBIDDEN,
        CREATED,
        lambda w, fresh: Call(json={"number": texter_number(), "reason": "abuse"}),
    ),
    ("DELETE", API + "/blocked/<int:texter_id>"): Access(
        NO_TOKEN, FORBIDDEN, FORBIDDEN, NO_CONTENT, blocked_texter
    ),
    ("GET", API + "/audit"): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, OK),
    ("GET", API + "/jobs/failed"): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, OK),
    ("POST", API + "/jobs/failed/retry"): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, OK),
    ("POST", API + "/jobs/failed/<job_id>/retry"): Access(
        NO_TOKEN, FORBIDDEN, FORBIDDEN, NOT_FOUND, lambda w, fresh: Call({"job_id": "none"})
    ),
    ("GET", "/metrics"): Access(NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ("GET", "/openapi.json"): Access(OK, OK, OK, OK),
    # The web inbox: strangers are sent to sign in; another's conversation "does not exist".
    ("GET", "/"): Access(redirect("/login"), INBOX, INBOX, INBOX),
    ("GET", "/login"): Access(OK, OK, OK, OK),
    ("POST", "/login"): Access(INBOX, INBOX, INBOX, INBOX, sams_credentials(True)),
    ("POST", "/logout"): Access(
        redirect("/login"),
        redirect("/login"),
        redirect("/login"),
        redirect("/login"),
        lambda w, fresh: Call(form={}, fresh_session=True),
    ),
    ("GET", "/inbox"): Access(LOGIN, OK, OK, OK),
    ("POST", "/inbox/status"): Access(
        LOGIN, INBOX, INBOX, INBOX, lambda w, fresh: Call(form={"status": "available"})
    ),
    # "Help another texter": nobody waits in the walk's world, so each is told so at /inbox.
    ("POST", "/inbox/help"): Access(LOGIN, INBOX, INBOX, INBOX, lambda w, fresh: Call(form={})),
    ("GET", THREAD_PAGE): Access(LOGIN, OK, NOT_FOUND, OK, conversation()),
    ("POST", THREAD_PAGE + "/reply"): Access(
        LOGIN, THREAD, NOT_FOUND, FORBIDDEN, conversation_form(body="hi")
    ),
    ("POST", THREAD_PAGE + "/close"): Access(
        LOGIN, INBOX, NOT_FOUND, INBOX, conversation_form(note="", outcome="supported")
    ),
    ("POST", THREAD_PAGE + "/notes"): Access(
        LOGIN, THREAD, NOT_FOUND, THREAD, conversation_form(note="likes short replies")
    ),
    # Sam is not crisis-trained: escalating hands the conversation on, out of Sam's inbox.
    ("POST", THREAD_PAGE + "/escalate"): Access(
        LOGIN, INBOX, NOT_FOUND, THREAD, conversation_form(note="talked of a plan")
    ),
    ("POST", THREAD_PAGE + "/transfer"): Access(
        LOGIN, INBOX, NOT_FOUND, THREAD, conversation_form(target="pool:", note="over to you")
    ),
    ("GET", "/inbox/events"): Access(refused(401), OK, OK, OK, short_streams),
    ("POST", THREAD_PAGE + "/accept"): Access(LOGIN, THREAD, NOT_FOUND, NOT_OFFERED, offer(True)),
    ("POST", THREAD_PAGE + "/decline"): Access(LOGIN, INBOX, NOT_FOUND, NOT_OFFERED, offer(True)),
    ("GET", "/static/<path:filename>"): Access(
        OK, OK, OK, OK, lambda w, fresh: Call({"filename": "helpline.css"})
    ),
    # The coordinator console: strangers sign in first, supporters are refused.
    ("GET", "/console"): Access(LOGIN, FORBIDDEN, FORBIDDEN, OK),
    # The board's event stream: like /inbox/events, a stranger is refused, not redirected.
    ("GET", "/console/events"): Access(NO_TOKEN, FORBIDDEN, FORBIDDEN, OK, short_streams),
    ("GET", REASSIGN): Access(LOGIN, FORBIDDEN, FORBIDDEN, OK, conversation()),
    ("POST", REASSIGN): Access(LOGIN, FORBIDDEN, FORBIDDEN, CONSOLE, reassign_to_ivy),
    ("GET", "/console/roster"): Access(LOGIN, FORBIDDEN, FORBIDDEN, OK),
    ("POST", "/console/roster"): Access(LOGIN, FORBIDDEN, FORBIDDEN, ROSTER, new_person_form),
    ("POST", "/console/roster/<int:user_id>/deactivate"): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, ROSTER, someone_to_deactivate
    ),
    ("GET", "/console/calendar"): Access(LOGIN, FORBIDDEN, FORBIDDEN, OK),
    ("POST", "/console/calendar/shifts"): Access(LOGIN, FORBIDDEN, FORBIDDEN, CALENDAR, shift_form),
    ("POST", "/console/calendar/shifts/<int:shift_id>/cancel"): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, CALENDAR, sams_occurrence
    ),
    ("POST", "/console/calendar/shifts/<int:shift_id>/move"): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, CALENDAR, sams_move
    ),
    ("GET", "/console/audit"): Access(LOGIN, FORBIDDEN, FORBIDDEN, OK),
    ("GET", "/console/jobs"): Access(LOGIN, FORBIDDEN, FORBIDDEN, OK),
    ("POST", "/console/jobs/<job_id>/retry"): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, JOBS, lambda w, fresh: Call({"job_id": "send-1"}, form={})
    ),
    ("POST", "/console/jobs/retry"): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, JOBS, lambda w, fresh: Call(form={})
    ),
    ("GET", "/console/reports"): Access(LOGIN, FORBIDDEN, FORBIDDEN, OK),
    ("GET", "/console/reports/<table>.csv"): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, OK, lambda w, fresh: Call({"table": "daily"})
    ),
    ("GET", FEED_LINK): Access(LOGIN, FORBIDDEN, FORBIDDEN, OK, sams_record()),
    ("POST", FEED_LINK): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, OK, lambda w, fresh: Call({"user_id": w.ivy.id}, form={})
    ),
    ("POST", "/console/roster/<int:user_id>/invite"): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, OK, someone_invited
    ),
    ("GET", "/inbox/calendar-feed"): Access(LOGIN, OK, OK, OK),
    ("POST", "/inbox/calendar-feed"): Access(LOGIN, OK, OK, OK, lambda w, fresh: Call(form={})),
    # Public by token: the token in the path is the credential, whoever calls (or is signed
    # in); a wrong, reset, used or expired token is refused to everyone alike (see below).
    ("GET", "/calendar/<token>.ics"): Access(OK, OK, OK, OK, sams_feed),
    ("GET", "/invite/<token>"): Access(OK, OK, OK, OK, invitation()),
    ("POST", "/invite/<token>"): Access(
        redirect("/login"),
        redirect("/login"),
        redirect("/login"),
        redirect("/login"),
        invitation(PASSWORD),
    ),
    ("GET", "/console/settings"): Access(LOGIN, FORBIDDEN, FORBIDDEN, OK),
    ("POST", "/console/settings"): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, redirect("/console/settings"), routing_form
    ),
    ("GET", "/console/texts"): Access(LOGIN, FORBIDDEN, FORBIDDEN, OK),
    ("POST", "/console/texts"): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, TEXTS, form(key="text_closed", value="Bye for now.")
    ),
    ("POST", "/console/texts/reset"): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, TEXTS, form(key="text_closed")
    ),
    ("GET", "/console/risk"): Access(LOGIN, FORBIDDEN, FORBIDDEN, OK),
    ("POST", "/console/risk"): Access(
        LOGIN,
        FORBIDDEN,
        FORBIDDEN,
        redirect("/console/risk"),
        form(risk_extra_phrases="want to vanish", intake_urgent_answers="2, no"),
    ),
    ("POST", "/console/risk/test"): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, OK, form(sample="I want to vanish")
    ),
    ("GET", "/console/programs"): Access(LOGIN, FORBIDDEN, FORBIDDEN, OK),
    ("POST", "/console/programs"): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, redirect("/console/programs/"), program_form()
    ),
    ("GET", PROGRAM_PAGE): Access(LOGIN, FORBIDDEN, FORBIDDEN, OK, program()),
    ("POST", PROGRAM_PAGE): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, redirect("/console/programs/"), program_form()
    ),
    ("POST", PROGRAM_PAGE + "/delete"): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, redirect("/console/programs"), program_form(delete=True)
    ),
    ("GET", "/console/canned"): Access(LOGIN, FORBIDDEN, FORBIDDEN, OK),
    ("POST", "/console/canned"): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, CANNED_PAGES, form(title="Hello", body="Hi there.")
    ),
    ("GET", CANNED_PAGE): Access(LOGIN, FORBIDDEN, FORBIDDEN, OK, canned_response()),
    ("POST", CANNED_PAGE): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, CANNED_PAGES, canned_form(title="Hello", body="Hello.")
    ),
    ("POST", CANNED_PAGE + "/delete"): Access(
        LOGIN, FORBIDDEN, FORBIDDEN, CANNED_PAGES, canned_form()
    ),
    # Twilio's webhooks: the signature is the only credential; sessions and tokens are not.
    ("POST", "/twilio/messages"): Access(
        UNSIGNED,
        UNSIGNED,
        UNSIGNED,
        UNSIGNED,
        lambda w, fresh: Call(form=inbound_form(w.helpline)),
        twilio=OK,
    ),
    ("POST", "/twilio/status"): Access(
        UNSIGNED, UNSIGNED, UNSIGNED, UNSIGNED, status_callback, twilio=NO_CONTENT
    ),
    # The dev phone (dev mode only, never in production): anyone may play a texter.
    ("GET", "/dev/phone"): Access(OK, OK, OK, OK),
    ("POST", "/dev/phone/number"): Access(
        PHONE, PHONE, PHONE, PHONE, lambda w, fresh: Call(form={"number": "+15550123456"})
    ),
    ("POST", "/dev/phone/send"): Access(
        PHONE, PHONE, PHONE, PHONE, lambda w, fresh: Call(form={"body": ""})
    ),
}
AUTOMATIC = {"HEAD", "OPTIONS"}  # Flask answers these itself: HEAD as GET, OPTIONS with Allow


def routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in AUTOMATIC
    }


def dev_mode(helpline: Helpline) -> Flask:
    dev = replace(helpline.settings, twilio_account_sid=None, twilio_auth_token=None)
    return create_app(dev, TESTING=True)


def test_every_route_has_a_row_in_the_table(helpline: Helpline) -> None:
    """A new route without a row fails here, so nobody forgets to decide who may call it."""
    found = routes(helpline.app) | routes(dev_mode(helpline))
    assert sorted(found - ROUTES.keys()) == [], "routes missing from the table"
    assert sorted(ROUTES.keys() - found) == [], "rows for routes the app no longer has"


def test_only_what_each_role_may_do_succeeds(helpline: Helpline) -> None:
    """Walk every route and method of the app as every caller; compare with the table."""
    wrong = walk(World(helpline, helpline.app), routes(helpline.app))
    dev = dev_mode(helpline)
    wrong += walk(World(helpline, dev), routes(dev) - routes(helpline.app))
    assert wrong == [], "\n".join(wrong)


def test_the_dev_phone_is_never_served_in_production(helpline: Helpline) -> None:
    """Without Twilio credentials in production the dev phone (which reads any number's texts)
    stays unmounted: a missing variable must not open a door."""
    settings = replace(
        helpline.settings, twilio_account_sid=None, twilio_auth_token=None, production=True
    )
    client = create_app(settings, TESTING=True).test_client()
    assert client.get("/dev/phone").status_code == 404
    assert client.post("/dev/phone/number", data={"number": "+15550123456"}).status_code == 404


def test_a_wrong_or_reset_token_is_a_404_to_everyone(helpline: Helpline) -> None:
    """The feed and invite links answer only their own live token; signing in adds nothing,
    and a token made stale by a reset or a use is as unknown as a made-up one."""
    world = World(helpline, helpline.app)
    stale_feed = sams_feed(world, True)
    sams_feed(world, True)  # a reset: the first token is dead now
    used = invitation(PASSWORD)(world, True)
    assert world.call("anonymous", "POST", "/invite/<token>", used, False).status_code == 302
    calls = [
        ("GET", "/calendar/<token>.ics", Call({"token": "not-a-token"})),
        ("GET", "/calendar/<token>.ics", stale_feed),
        ("GET", "/invite/<token>", Call({"token": "not-a-token"})),
    ]
    for role in ROLES:
        for method, rule, call in calls:
            answer = world.call(role, method, rule, call, signed=False)
            assert answer.status_code == 404, (role, rule, call)
        again = world.call(role, "GET", "/invite/<token>", Call(used.path), signed=False)
        assert again.status_code == 410, role


def walk(world: World, here: set[tuple[str, str]]) -> list[str]:
    """Every (route, method, caller) whose answer differs from the table, in words."""
    wrong: list[str] = []
    for method, rule in sorted(here):
        access = ROUTES[(method, rule)]
        for role in ROLES:
            wrong += check(world, method, rule, access, role)
        if access.twilio is not None:
            answer = world.call("twilio", method, rule, access.prepare(world, True), signed=True)
            wrong += differences(method, rule, "twilio", access.twilio, answer)
    return wrong


def check(world: World, method: str, rule: str, access: Access, role: str) -> list[str]:
    expected = access.answer(role)
    succeeds = not expected.refused
    answer = world.call(role, method, rule, access.prepare(world, succeeds), signed=False)
    wrong = differences(method, rule, role, expected, answer)
    if method == "GET":
        head = world.call(role, "HEAD", rule, access.prepare(world, False), signed=False)
        wrong += differences("HEAD", rule, role, expected, head)
    options = world.call(role, "OPTIONS", rule, access.prepare(world, False), signed=False)
    if options.status_code != 200 or options.data:
        wrong.append(f"OPTIONS {rule} as {role}: {options.status_code} {options.data[:80]!r}")
    return wrong


def differences(
    method: str, rule: str, role: str, expected: Answer, answer: TestResponse
) -> list[str]:
    location = urlsplit(answer.headers.get("Location", "")).path
    if answer.status_code == expected.status and _leads_to(location, expected.location):
        return []
    got = f"{answer.status_code}" + (f" to {location}" if location else "")
    return [f"{method} {rule} as {role}: expected {expected}, got {got}"]


def _leads_to(location: str, expected: str | None) -> bool:
    if expected is None:
        return True
    return location == expected or (expected.endswith("/") and location.startswith(expected))


def test_a_handoff_offered_to_me_may_be_read_but_not_acted_on_before_accepting(
    helpline: Helpline,
) -> None:
    """Kim still holds the conversation while it is offered to Sam: Sam may read it to decide,
    but may not reply, note, transfer or close it until accepting."""
    world = World(helpline, helpline.app)
    ids = {"conversation_id": world.offer(fresh=True)}
    reads = [("GET", CONVERSATION, Call(ids)), ("GET", THREAD_PAGE, Call(ids))]
    for method, rule, call in reads:
        assert world.call("supporter", method, rule, call, signed=False).status_code == 200
    acts = [
        (CONVERSATION + "/messages", Call(ids, json={"body": "hi"})),
        (CONVERSATION + "/notes", Call(ids, json={"note": "n"})),
        (CONVERSATION + "/transfer", Call(ids, json={"skill": "general"})),
        (CONVERSATION + "/close", Call(ids, json={})),
        (CONVERSATION + "/escalate", Call(ids, json={})),
        (THREAD_PAGE + "/reply", Call(ids, form={"body": "hi"})),
        (THREAD_PAGE + "/close", Call(ids, form={"outcome": "supported"})),
        (THREAD_PAGE + "/notes", Call(ids, form={"note": "n"})),
        (THREAD_PAGE + "/escalate", Call(ids, form={})),
    ]
    answers = {
        rule: world.call("supporter", "POST", rule, call, signed=False).status_code
        for rule, call in acts
    }
    assert answers == {rule: 403 for rule, _ in acts}
