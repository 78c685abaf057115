"""Events and what leaves the process: nothing secret unless unmask is asked for."""

from __future__ import annotations

import json

import pytest

from possim.errors import PossimError
from possim.traffic import event_from_json, event_to_json, make_event
from possim.traffic.masking import _luhn_ok, mask_plain, sanitize_pan, sanitize_plain

from .toydialect import PAN, PIN_BLOCK, TOY, TRACK2, ToyMessage, echo, purchase, toy_resolver

LINK = "tcp://127.0.0.1:5000#1"
# EMV field 55 (made up): 9F26 cryptogram, 5A PAN, 57 track 2 equivalent, 9F36 ATC
ICC = "9F2608A1B2C3D4E5F60718" + "5A08" + "6212142000000012" + "5710" + "6212142000000012D3012201123456789F" + "9F36020042"
SECRETS = [PAN, TRACK2, PIN_BLOCK, "6212142000000012", "D30122011234567"]


def _purchase_event(**extra: str):
    return make_event("in", TOY.encode(purchase(**extra)), LINK, time=1.5, role="host", dialect=TOY, framing="len2")


def test_make_event_decodes_and_keeps_the_bytes() -> None:
    event = _purchase_event()
    assert event.raw == TOY.encode(purchase())
    assert event.message == purchase()
    assert event.error is None
    assert (event.mti, event.stan, event.tid) == ("0200", "000001", "12345678")
    assert (event.dialect, event.framing, event.raw_len) == ("toy", "len2", len(event.raw))


def test_decode_error_is_captured_as_text_not_raised() -> None:
    event = make_event("in", b"02\xff\x00garbage", LINK, time=2.0, role="terminal", dialect=TOY)
    assert event.message is None
    assert event.error == "toy: non-ASCII byte at offset 2"
    assert event.safe_raw is None  # nothing tells where a PAN might be


def test_without_dialect_the_frame_is_kept_undecoded() -> None:
    event = make_event("out", b"0800", "pty:/dev/pts/4", time=3.0, role="terminal")
    assert (event.message, event.error, event.dialect) == (None, None, None)


@pytest.mark.parametrize("direction,role", [("sideways", "host"), ("in", "acquirer")])
def test_bad_direction_or_role_is_a_user_error(direction: str, role: str) -> None:
    with pytest.raises(PossimError, match="traffic (direction|role)"):
        make_event(direction, b"x", LINK, time=0.0, role=role)  # type: ignore[arg-type]


def test_mask_plain_hides_pan_track_pin_and_card_tags_in_icc() -> None:
    plain = purchase(**{"55": ICC}).to_json()
    masked = mask_plain(plain)
    f = masked["fields"]
    assert f["2"] == "621214*********0012"
    assert f["35"] == "621214*********0012=" + "*" * 17
    assert f["52"] == "*" * 16
    # cryptogram and ATC stay readable; PAN and track 2 equivalent are starred
    assert f["55"].startswith("9F2608A1B2C3D4E5F60718" + "5A08" + "*" * 16 + "5710" + "*" * 32)
    assert f["55"].endswith("9F36020042")
    assert f["4"] == "000000000100" and f["41"] == "12345678"
    assert plain["fields"]["2"] == PAN  # the input is not modified


def test_unparseable_icc_is_masked_whole() -> None:
    masked = mask_plain({"mti": "0200", "fields": {"55": "9F2610AB"}})  # says 16 bytes, has 1
    assert masked["fields"]["55"] == "*" * 8


def test_card_tags_inside_an_icc_template_are_hidden_too() -> None:
    # template 70 wrapping 5A (PAN) and 9F36 (ATC)
    template = "700D" + "5A06" + "621214200000" + "9F36020042"
    masked = mask_plain({"mti": "0200", "fields": {"55": template}})["fields"]["55"]
    assert masked == "700D5A06" + "*" * 12 + "9F36020042"
    clean = sanitize_plain({"mti": "0200", "fields": {"55": template}})["fields"]["55"]
    assert clean == "700D5A06" + "0" * 12 + "9F36020042"


def test_keys_in_field_62_are_secret_only_in_network_management() -> None:
    keys = "0123456789ABCDEF" * 3
    assert mask_plain({"mti": "0810", "fields": {"62": keys}})["fields"]["62"] == "*" * 48
    assert mask_plain({"mti": "0200", "fields": {"62": "ABCD"}})["fields"]["62"] == "ABCD"


def test_sanitized_values_keep_length_and_alphabet_and_never_pass_luhn() -> None:
    plain = purchase(**{"55": ICC}).to_json()
    clean = sanitize_plain(plain)["fields"]
    for number in ("2", "35", "52", "55"):
        assert len(clean[number]) == len(plain["fields"][number])
    assert clean["2"].isdigit() and clean["2"] != PAN and not _luhn_ok(clean["2"])
    assert clean["35"].split("=")[0] == clean["2"]
    assert clean["52"] == "0" * 16
    bytes.fromhex(clean["55"])  # still hex, so the dialect can encode it
    for pan in ("4111111111111111", "6212142000000000012", "6200000000000000000", "5500000000000004"):
        assert not _luhn_ok(sanitize_pan(pan))


def test_default_json_line_carries_no_secret_anywhere() -> None:
    event = _purchase_event(**{"55": ICC})
    line = json.dumps(event_to_json(event))
    for secret in SECRETS:
        assert secret not in line
        assert secret.encode().hex().upper() not in line  # nor inside the raw hex
    obj = event_to_json(event)
    assert obj["masked"] is True and obj["unmasked"] is False
    # the exported raw is a well-formed frame of the same size with stand-ins
    safe = TOY.decode(bytes.fromhex(obj["raw"]))
    assert len(bytes.fromhex(obj["raw"])) == len(event.raw)
    assert safe.fields["4"] == "000000000100" and safe.fields["2"] != PAN


def test_unmask_shows_the_real_thing_and_says_so() -> None:
    event = _purchase_event()
    obj = event_to_json(event, unmask=True)
    assert obj["message"]["fields"]["2"] == PAN
    assert bytes.fromhex(obj["raw"]) == event.raw
    assert obj["unmasked"] is True and obj["masked"] is False


def test_frame_without_secrets_exports_its_real_bytes() -> None:
    event = make_event("out", TOY.encode(echo()), LINK, time=1.0, role="terminal", dialect=TOY)
    obj = event_to_json(event)
    assert bytes.fromhex(obj["raw"]) == event.raw
    assert obj["masked"] is False
    assert obj["message"] == echo().to_json()


def test_undecodable_frame_is_withheld_unless_unmasked() -> None:
    garbage = ("0200" + "002019" + PAN).encode() + b"\xff"
    event = make_event("in", garbage, LINK, time=1.0, role="host", dialect=TOY)
    obj = event_to_json(event)
    assert obj["raw"] is None and obj["raw_len"] == len(garbage) and obj["error"]
    assert PAN not in json.dumps(obj)
    assert bytes.fromhex(event_to_json(event, unmask=True)["raw"]) == garbage


def test_fields_the_dialect_masks_are_masked_too() -> None:
    # the toy dialect marks field 48 secret in its own masked form; the traffic table does not know 48
    event = make_event("in", TOY.encode(ToyMessage("0200", {"11": "000001", "48": "SECRETVALUE"})), LINK,
                       time=1.0, role="host", dialect=TOY)
    obj = event_to_json(event)
    assert obj["message"]["fields"]["48"] == "#" * 11
    assert "SECRETVALUE" not in json.dumps(obj)
    assert b"SECRETVALUE" not in bytes.fromhex(obj["raw"])
    assert b"XXXXXXXXXXX" in bytes.fromhex(obj["raw"])


def test_json_round_trip_keeps_the_event() -> None:
    event = make_event("out", TOY.encode(echo()), LINK, time=1700000000.123456, role="terminal",
                       dialect=TOY, framing="len2")
    back = event_from_json(json.loads(json.dumps(event_to_json(event))), dialect_resolver=toy_resolver)
    assert back == event


def test_unmasked_json_read_back_is_masked_again_on_export() -> None:
    event = _purchase_event()
    back = event_from_json(event_to_json(event, unmask=True), dialect_resolver=toy_resolver)
    assert back.raw == event.raw and back.message == event.message
    again = json.dumps(event_to_json(back))
    assert PAN not in again and PAN.encode().hex().upper() not in again


def test_event_from_json_rejects_what_is_not_an_event() -> None:
    with pytest.raises(PossimError, match="missing or bad key"):
        event_from_json({"seq": 1})
    with pytest.raises(PossimError, match="not hex"):
        event_from_json({"dir": "in", "role": "host", "time": 1, "link": "x", "raw": "zz"})
