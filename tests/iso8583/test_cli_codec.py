"""The decode/encode/dialects commands, run as a user runs them: a real subprocess, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.iso8583.test_cup_traffic import FRAMES

PURCHASE = FRAMES[2].values[3]  # Easy8583Ans 0200, with its 2-byte length


def possim(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "possim", *args], input=stdin, capture_output=True, text=True,
                          timeout=60)


def test_dialects_lists_shipped_files() -> None:
    out = possim("dialects")
    assert out.returncode == 0
    names = [line.split()[0] for line in out.stdout.splitlines()]
    assert {"cup-pos", "iso87-ascii", "iso87-binary"} <= set(names)


def test_decode_table_is_masked_and_names_things() -> None:
    out = possim("decode", PURCHASE)
    assert out.returncode == 0, out.stderr
    assert "0200 Purchase (request)" in out.stdout
    assert "6210810840003424940" not in out.stdout
    assert "621081*********4940" in out.stdout
    assert "60.2" in out.stdout and "000757" in out.stdout


def test_decode_json_then_encode_gives_the_same_frame() -> None:
    out = possim("--unmask", "decode", "--json", PURCHASE)
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    assert obj["fields"]["2"] == "6210810840003424940"
    back = possim("encode", out.stdout)
    assert back.returncode == 0, back.stderr
    assert back.stdout.strip() == PURCHASE.upper()


def test_masked_json_has_no_pan() -> None:
    out = possim("decode", "--json", PURCHASE)
    assert "6210810840003424940" not in out.stdout
    assert json.loads(out.stdout)["fields"]["2"] == "621081*********4940"


def test_bulk_decode_goes_on_after_a_bad_line_and_exits_2() -> None:
    lines = "\n".join([PURCHASE, "00zz", "", PURCHASE[:60], PURCHASE]) + "\n"
    out = possim("decode", "--json", "-", stdin=lines)
    assert out.returncode == 2
    rows = [json.loads(r) for r in out.stdout.splitlines()]
    assert len(rows) == 4
    assert rows[0]["mti"] == "0200" and rows[3]["mti"] == "0200"
    assert rows[1] == {"error": "line 2: 'z' at character 2 is not a hex digit", "line": 2}
    assert rows[2]["line"] == 4 and "len2: length prefix says 280 bytes" in rows[2]["error"]
    assert "2 of 4 lines failed" in out.stderr
    assert "Traceback" not in out.stderr


def test_bulk_encode_json_lines() -> None:
    good = json.dumps({"mti": "0800", "fields": {"11": "000001", "70": "301"}})
    out = possim("encode", "--dialect", "iso87-ascii", "-", stdin=f"{good}\n{{\"mti\": 8}}\n{good}\n")
    assert out.returncode == 2
    rows = out.stdout.splitlines()
    assert rows[0] == rows[2]
    # MTI, primary and secondary bitmaps as hex text (bit 1 set for field 70), then 11 and 70
    assert bytes.fromhex(rows[0]) == b"0800" + b"8020000000000000" + b"0400000000000000" + b"000001" + b"301"
    assert json.loads(rows[1])["line"] == 2


@pytest.mark.parametrize("args,message", [
    (("decode", "12G4"), "HEX: 'G' at character 2 is not a hex digit"),
    (("decode", "--dialect", "nope", "00"), "unknown dialect 'nope'"),
    (("decode", "--framing", "len9", PURCHASE), "--framing: unknown framing 'len9'"),
    (("decode", "--dialect", "iso87-ascii", "30323030"), "primary bitmap: expected 16 bytes, 0 left at offset 4"),
    (("encode", "{not json"), "JSON: Expecting property name enclosed in double quotes"),
    (("encode", "--dialect", "iso87-ascii", '{"mti": "0200", "fields": {"3": "12"}}'),
     "field 3: expected exactly 6 digits"),
    (("encode", '{"mti": "0200", "fields": {"3": "000000"}}'), "TPDU: cup-pos needs a 10-hex-digit tpdu"),
])
def test_bad_input_is_one_line_exit_2(args: tuple[str, ...], message: str) -> None:
    out = possim(*args, stdin="")
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_usage_error_is_exit_2() -> None:
    out = possim("decode", "--bogus")
    assert out.returncode == 2 and "unrecognized arguments" in out.stderr


def test_field_64_frame_framing_len4_and_stx() -> None:
    for framing in ("len4", "stx", "none", "len2i", "bcd2"):
        enc = possim("encode", "--framing", framing, "--dialect", "iso87-binary",
                     '{"mti": "0200", "fields": {"3": "000000", "64": "0102030405060708"}}')
        assert enc.returncode == 0, enc.stderr
        dec = possim("decode", "--json", "--framing", framing, "--dialect", "iso87-binary", enc.stdout.strip())
        assert dec.returncode == 0, (framing, dec.stderr)
        assert json.loads(dec.stdout)["fields"] == {"3": "000000", "64": "0102030405060708"}
