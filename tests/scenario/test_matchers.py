"""Each expectation marker, on fields, subfields and receipt text."""

from __future__ import annotations

import pytest

from possim.iso8583 import get_dialect
from possim.scenario.matchers import MISSING, parse_matcher
from possim.scenario.model import compile_expect
from possim.scenario.catalogue import STEPS
from possim.scenario.outcome import check, resolve
from possim.scenario.yamlsource import ScenarioError, load_text

NOTHING = lambda: MISSING  # noqa: E731 - no request to echo


@pytest.mark.parametrize("spec, received, ok", [
    ("00", "00", True), ("00", "05", False), ("00", MISSING, False),
    (100, "100", True), (100, 100, True), (True, True, True), (False, True, False),
    ("present", "x", True), ("present", "", True), ("present", MISSING, False), ("present", None, False),
    ("absent", MISSING, True), ("absent", None, True), ("absent", "", False),
    ("any", MISSING, True), ("any", "x", True),
    ({"regex": "[0-9]{6}"}, "123456", True), ({"regex": "[0-9]{6}"}, "1234567", False),
    ({"regex": ".*"}, MISSING, False),
    ({"contains": "RMB 1.00"}, "金额 RMB 1.00\n", True), ({"contains": ["a", "b"]}, "a only", False),
    ({"not_contains": "REPRINT"}, "slip", True), ({"not_contains": "REPRINT"}, "REPRINT slip", False),
    ({"one_of": ["00", "10"]}, "10", True), ({"one_of": ["00", "10"]}, "05", False),
    ({"exact": "present"}, "present", True), ({"exact": "present"}, "x", False),
])
def test_markers(spec: object, received: object, ok: bool) -> None:
    assert parse_matcher(spec, "f:1").check(received, NOTHING).ok is ok


def test_echo_compares_with_the_request() -> None:
    echo = parse_matcher("echo", "f:1")
    assert echo.check("000123", lambda: "000123").ok
    verdict = echo.check("000124", lambda: "000123")
    assert not verdict.ok and verdict.wanted == "echo of the request: '000123'"
    assert echo.check(MISSING, lambda: MISSING).ok  # absent in both
    assert not echo.check("x", lambda: MISSING).ok


def test_mismatch_words_say_what_was_missing() -> None:
    verdict = parse_matcher({"contains": ["a", "b"]}, "f:1").check("a", NOTHING)
    assert verdict.wanted == "text containing 'a', 'b' (missing: 'b')"


@pytest.mark.parametrize("spec, message", [
    ({"regex": "("}, "f:1: regex '('"),
    ({"regex": "a", "contains": "b"}, "exactly one of"),
    ({"foo": 1}, "unknown matcher 'foo'"),
    ({"contains": [{"a": 1}]}, "contains: expected a text"),
    (["a"], "a list is not an expected value"),
])
def test_bad_matchers(spec: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(")):
        parse_matcher(spec, "f:1")


def _messages():
    d = get_dialect("cup-pos")
    request = d.message("0200", {"2": "6222021234567890123", "3": "000000", "4": "000000000100", "11": "000007",
                                 "60": "22000001000"}, tpdu="6005810000", header="603100000000")
    response = d.message("0210", {"3": "000000", "4": "000000000100", "11": "000007", "39": "00",
                                  "60": "22000001000", "2": "6222021234567890123"},
                         tpdu="6000000581", header="603100000000")
    return d.decode(d.encode(request)), d.decode(d.encode(response))


def test_fields_and_subfields_against_decoded_messages() -> None:
    request, response = _messages()
    obs = {"request": request, "response": response, "fields": response, "mti": response.mti}
    spec = load_text("""
fields: {"39": "00", "11": echo, "4": echo, "60.1": "22", "60.2": "000001", "60.3": "000", "38": absent, "2": present}
mti: "0210"
response: {mti: "0210", fields: {"60.1": {regex: "2[0-9]"}}}
""", "t.yaml")
    assert check(compile_expect(spec, STEPS["send"], "t.yaml:1"), obs) == []
    assert resolve(obs, ("response", "60.1")) == "22"  # short form of response.fields.60.1


def test_mismatches_name_line_and_mask_card_numbers() -> None:
    request, response = _messages()
    obs = {"request": request, "response": response, "fields": response}
    spec = load_text('fields:\n  "39": "05"\n  "2": "6222020000000000011"\n  "60.1": "23"\n', "t.yaml")
    mismatches = check(compile_expect(spec, STEPS["send"], "t.yaml:1"), obs)
    assert [(m.path, m.line, m.wanted) for m in mismatches] == [
        ("fields.39", 2, "'05'"), ("fields.2", 3, "'6222020000000000011'"), ("fields.60.1", 4, "'23'")]
    assert mismatches[0].received == "'00'"
    assert "6222021234567890123" not in mismatches[1].received and mismatches[1].received.endswith("0123'")
    unmasked = check(compile_expect(spec, STEPS["send"], "t.yaml:1"), obs, unmask=True)
    assert unmasked[1].received == "'6222021234567890123'"


def test_receipt_text_matching() -> None:
    spec = load_text("receipt: {contains: [商户存根, RMB 25.00]}\ncode: '00'\n", "t.yaml")
    expectations = compile_expect(spec, STEPS["purchase"], "t.yaml:1")
    good = {"code": "00", "receipt": "POS签购单\n商户存根 MERCHANT COPY\n金额(AMOUNT): RMB 25.00\n"}
    assert check(expectations, good) == []
    [bad] = check(expectations, {"code": "00", "receipt": "持卡人存根\nRMB 25.00\n"})
    assert bad.path == "receipt" and "missing: '商户存根'" in bad.wanted and "持卡人存根" in bad.received
