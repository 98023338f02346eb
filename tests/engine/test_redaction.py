"""What the engine replaces of a filled vault value (engine/runtimes/seal.py): every form a report
may carry it in — as typed, URL-encoded (a form's body, a GET form's URL), HTML-escaped (markup),
in events and results, kept bodies and the strings of messages to CDP clients without raw reads."""

import html
from urllib.parse import quote, quote_plus

from engine.runtimes.seal import REDACTED, Seal

SECRET = 'p@ss "w/rd" <&> é'
FORMS = (SECRET, quote_plus(SECRET), quote(SECRET, safe=""), html.escape(SECRET))


def filled() -> Seal:
    seal = Seal()
    seal.remember([SECRET, "abc"])  # a value shorter than 4 is never replaced (it would blank text)
    return seal


def test_each_form_is_replaced_in_results_and_events() -> None:
    seal = filled()
    for shown in FORMS:
        assert seal.redact({"url": f"http://a/?q={shown}", "list": [f"<b>{shown}</b>"]}) == {
            "url": f"http://a/?q={REDACTED}",
            "list": [f"<b>{REDACTED}</b>"],
        }, shown
    assert seal.redact("abc stays") == "abc stays"


def test_each_form_is_replaced_in_kept_bodies() -> None:
    seal = filled()
    for shown in FORMS:
        assert seal.redact_bytes(f"before {shown} after".encode()) == f"before {REDACTED} after".encode()


def test_each_form_is_replaced_in_a_messages_strings_never_its_keys() -> None:
    seal = filled()
    for shown in FORMS:
        message = {"id": 3, "result": {"result": {"value": f"a {shown} b"}}}
        assert seal.redact(message) == {"id": 3, "result": {"result": {"value": "a [secret] b"}}}, shown
    named = Seal()
    named.remember(["value"])  # a value that is also a CDP field name: the message keeps its shape
    assert named.redact({"result": {"value": "the value"}}) == {"result": {"value": "the [secret]"}}


def test_nothing_is_replaced_before_a_fill() -> None:
    assert Seal().redact({"v": SECRET}) == {"v": SECRET}
    assert Seal().redact_bytes(SECRET.encode()) == SECRET.encode()
