"""Bitmaps, MTI encodings and the dialect registry."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from possim.iso8583 import DecodeError, Dialect, get_dialect

ROOT = Path(__file__).resolve().parents[2]


def _dialect(**top: object) -> Dialect:
    fields = {n: {"type": "n", "length": 3} for n in (2, 3, 64, 66, 128, 130, 192)}
    return Dialect({"name": "t", "mti": "ascii", "bitmap": "binary", "fields": fields, **top})


def test_secondary_bitmap_added_and_dropped() -> None:
    d = _dialect()
    small = d.encode(d.message("0200", {"3": "123"}))
    assert small[4:12] == bytes.fromhex("2000000000000000")
    big = d.encode(d.message("0200", {"3": "123", "128": "456"}))
    assert big[4:20] == bytes.fromhex("A000000000000000" "0000000000000001")
    assert d.decode(big).fields == {"3": "123", "128": "456"}
    # a secondary bitmap announced but empty is still read correctly
    assert d.decode(bytes.fromhex("30323030") + bytes.fromhex("A000000000000000" "0000000000000000") + b"123") \
        .fields == {"3": "123"}


def test_tertiary_bitmap_where_the_dialect_asks() -> None:
    d = _dialect(tertiary_bitmap=True, fields={n: {"type": "n", "length": 3} for n in (3, 66, 130, 192)})
    raw = d.encode(d.message("0200", {"3": "123", "130": "777", "192": "888"}))
    assert raw[4:28] == bytes.fromhex("A000000000000000" "8000000000000000" "4000000000000001")
    assert d.decode(raw).fields == {"3": "123", "130": "777", "192": "888"}
    assert d.decode(d.encode(d.message("0200", {"66": "001"}))).fields == {"66": "001"}


def test_hex_bitmap_and_ebcdic_mti() -> None:
    d = Dialect({"name": "e", "mti": "ebcdic", "bitmap": "hex",
                 "fields": {3: {"type": "n", "length": 6, "encoding": "ebcdic"},
                            41: {"type": "ans", "length": 8, "encoding": "ebcdic"}}})
    raw = d.encode(d.message("0800", {"3": "990000", "41": "TERM0001"}))
    assert raw[:4] == "0800".encode("cp500")
    assert raw[4:20] == b"2000000000800000"
    assert raw[20:26] == "990000".encode("cp500")
    assert d.decode(raw).fields == {"3": "990000", "41": "TERM0001"}
    with pytest.raises(DecodeError, match="primary bitmap: expected 16 hex characters at offset 4"):
        d.decode(raw[:4] + b"zz" + raw[6:])


def test_user_dialect_folder_and_file_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "protocols" / "cup-pos.yaml").read_text(encoding="utf-8").replace("name: cup-pos",
                                                                                      "name: my-acquirer")
    path = tmp_path / "my-acquirer.yaml"
    path.write_text(text.replace("header: 6", "header: 2"), encoding="utf-8")
    assert get_dialect(str(path)).header_size == 2
    monkeypatch.setenv("POSSIM_PROTOCOLS", str(tmp_path))
    assert get_dialect("my-acquirer").header_size == 2
    (tmp_path / "broken.yaml").write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(Exception, match=r"broken.yaml line \d+: not valid YAML"):
        get_dialect("broken")


def test_dialect_files_ship_inside_the_wheel(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    wheel = next(tmp_path.glob("possim-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (ROOT / "protocols").glob("*.yaml"):
        assert f"possim/protocols/{shipped.name}" in names
