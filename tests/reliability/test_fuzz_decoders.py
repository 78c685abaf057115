"""Damaged input into every decoder a peer's bytes reach: a result or a clean possim error, never another exception.

tests/iso8583/test_properties.py already feeds random bytes to every dialect decoder and
test_fuzz_framing.py to every framer. Random bytes mostly die at the MTI or the bitmap, so this
file *mutates valid frames* (flip, overwrite, insert, delete, truncate, repeat a slice), which
reaches the field codecs, the subfield layouts and the checks behind them:

* every dialect: decode, then ``describe`` / ``summary_line`` / re-encode whatever decodes;
* every dialect x every framing through ``possim.wire.decode_frame``;
* the ECR TLV codec (the till's bytes into the terminal);
* the host's processor on a real SQLite file: a damaged request beside a good one in one group
  commit -- the good one must still be answered and approved;
* the terminal's answer reader: a damaged 0210 is an answer, or BadResponse / MacMismatch;
* the little parsers behind them: field 59 usage tags (both sides), field 48 totals and upload
  lines, field 62 key delivery.

Bounded by ``max_examples`` so the file runs in seconds; see docs/reliability.md for the figures.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from possim.errors import PossimError
from possim.host.clock import HOST_TZ, SimulatedClock
from possim.host.codes import Refusal
from possim.host.db import open_db
from possim.host.example_config import example_config
from possim.host.management import parse_tags
from possim.host.processor import Processor
from possim.host.settlement import parse_field48, parse_upload
from possim.iso8583 import Message, get_dialect, list_dialects
from possim.iso8583.describe import describe, summary_line
from possim.link.framing import frame, list_framings
from possim.security import keys, message, pinblock
from possim.terminal.config import TerminalConfig
from possim.terminal.ecr import get_protocol
from possim.terminal.messages import CupMessages, parse_usage_tags
from possim.wire import decode_frame

from tests.iso8583.strategies import messages

DIALECTS = sorted(d.name for d in list_dialects())
FRAMINGS = sorted(list_framings())
EXAMPLES = 60  # per target; docs/reliability.md multiplies these out
QUICK = settings(max_examples=EXAMPLES, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

CUP = get_dialect("cup-pos")
TMK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
TID, MID, PAN, PIN = "10000001", "898310048120001", "6222021234567890123", "123456"
SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples" / "cup-pos-frames.hex"


# --- mutations -----------------------------------------------------------------------

@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with one to six edits: the damage a noisy line, a buggy peer or an attacker does."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "repeat"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x30, 0x39, 0x3D, 0x7F, 0x80, 0x99, 0xA0, 0xFE]))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[at:at + draw(st.integers(1, 8))]
        elif op == "truncate":
            del data[at:]
        elif op == "repeat" and data:
            data[at:at] = data[at:at + draw(st.integers(1, 16))]
    return bytes(data)


def _sample_bodies() -> list[bytes]:
    """Real-shaped cup-pos frames shipped with the docs (len2-framed hex, one per line)."""
    from possim.link.framing import unframe

    out = []
    for line in SAMPLES.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            out.append(unframe("len2", bytes.fromhex(line)))
        except (ValueError, PossimError):
            continue
    return out


def _decode_and_use(dialect_name: str, body: bytes) -> None:
    """What possim does with a decoded peer message: describe it, summarise it, build it again."""
    dialect = get_dialect(dialect_name)
    try:
        msg = dialect.decode(body)
    except PossimError as exc:
        assert "\n" not in str(exc), exc
        return
    text = describe(dialect, msg, raw=body)
    assert isinstance(text, str) and text
    summary_line(dialect, msg)
    dialect.transaction_name(msg)
    try:
        dialect.encode(msg)
    except PossimError:
        pass  # a decoded value the encoder is stricter about is refused cleanly


# --- every dialect -------------------------------------------------------------------

@pytest.mark.parametrize("name", DIALECTS)
@QUICK
@given(data=st.data())
def test_mutated_messages_into_every_dialect(name: str, data: st.DataObject) -> None:
    dialect = get_dialect(name)
    seed = dialect.encode(data.draw(messages(dialect), label="valid message"))
    _decode_and_use(name, data.draw(mutated(seed), label="damaged"))


@QUICK
@given(data=st.data())
def test_mutated_real_cup_frames(data: st.DataObject) -> None:
    bodies = _sample_bodies()
    assert bodies, f"no frames read from {SAMPLES}"
    seed = data.draw(st.sampled_from(bodies))
    _decode_and_use("cup-pos", data.draw(mutated(seed)))


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("name", DIALECTS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_frames_through_decode_frame(name: str, framing: str, data: st.DataObject) -> None:
    dialect = get_dialect(name)
    seed = frame(framing, dialect.encode(data.draw(messages(dialect))))
    blob = data.draw(st.one_of(mutated(seed), st.binary(max_size=120)))
    try:
        decode_frame(dialect, blob, framing)
    except PossimError as exc:
        assert "\n" not in str(exc), exc


# --- the ECR codec ---------------------------------------------------------------------

ECR = get_protocol("ecr-possim")
ECR_SEEDS = [ECR.encode({"command": "01", "amount": 1234, "pin": "123456"}),
             ECR.encode({"command": "10"}),
             ECR.encode({"message": "交易成功", "result_code": "00"})]


@QUICK
@given(data=st.data())
def test_ecr_codec_takes_any_damage(data: st.DataObject) -> None:
    blob = data.draw(st.one_of(st.sampled_from(ECR_SEEDS).flatmap(mutated), st.binary(max_size=80)))
    try:
        values = ECR.decode(blob)
    except PossimError as exc:
        assert "\n" not in str(exc)
        return
    ECR.describe(values)


# --- the host's processor on a real database --------------------------------------------

def _counter_random() -> "itertools.count[int]":
    return itertools.count(1)


class _HostBench:
    """A Processor on a real SQLite file with one signed-in terminal, and a source of good purchases."""

    def __init__(self, path: Path) -> None:
        self.clock = SimulatedClock(datetime(2024, 6, 1, 10, 0, tzinfo=HOST_TZ))
        counter = _counter_random()
        self.processor = Processor(open_db(path), example_config(), CUP, self.clock,
                                   random_bytes=lambda n: bytes((next(counter) * 37 + i) % 256 for i in range(n)))
        self.stan = itertools.count(1)
        answer = self.processor.handle(CUP.message("0800", {"11": self._stan(), "41": TID, "42": MID,
                                                            "60": "00000001003", "63": "001"},
                                                   tpdu="6000030000", header="603100000000"))
        assert answer is not None and answer["39"] == "00"
        self.store = keys.KeyStore(TID, TMK).apply_field62("003", bytes.fromhex(answer["62"]))

    def _stan(self) -> str:
        return f"{next(self.stan):06d}"

    def purchase(self, amount: int = 100) -> bytes:
        fields = {"2": PAN, "3": "000000", "4": f"{amount:012d}", "11": self._stan(), "14": "3012", "22": "021",
                  "25": "00", "26": "12", "41": TID, "42": MID, "49": "156",
                  "52": pinblock.encipher(0, PIN, PAN, self.store.require("pik")).hex().upper(),
                  "53": "2600000000000000", "60": "22000001000", "64": "00" * 8}
        body = CUP.encode(CUP.message("0200", fields, tpdu="6000030000", header="603100000000"))
        return message.sign(CUP, body, "cup-ecb", self.store.require("mak"))

    def seeds(self) -> list[bytes]:
        """One of each request kind the host routes, signed: what a damaged frame is made from."""
        def signed(mti: str, fields: dict[str, str]) -> bytes:
            base = {"11": self._stan(), "41": TID, "42": MID, "64": "00" * 8, **fields}
            return message.sign(CUP, CUP.encode(CUP.message(mti, base, tpdu="6000030000", header="603100000000")),
                                "cup-ecb", self.store.require("mak"))
        return [
            self.purchase(),
            signed("0200", {"2": PAN, "3": "310000", "14": "3012", "22": "021", "25": "00", "60": "01000001000"}),
            signed("0400", {"2": PAN, "3": "000000", "4": "000000000100", "22": "021", "25": "00", "39": "98",
                            "60": "22000001000", "61": "000001000002"}),
            signed("0500", {"48": "0" * 62, "49": "156", "60": "00000001201", "63": "001"}),
            signed("0320", {"48": "01" + "19" + PAN + "000000000100" + "000002", "60": "00000001201"}),
            signed("0800", {"59": "RR004test", "60": "00000001802"}),
            signed("0220", {"2": PAN, "3": "200000", "4": "000000000050", "22": "021", "25": "00",
                            "37": "000000000001", "60": "25000001000", "61": "0000010000020601"}),
        ]


@pytest.fixture(scope="module")
def host_bench() -> Iterator[_HostBench]:
    # module scope: hypothesis runs many examples per test, and a function-scoped tmp_path would be shared anyway
    with tempfile.TemporaryDirectory(prefix="possim-fuzz-") as tmp:
        bench = _HostBench(Path(tmp) / "host.db")
        yield bench
        bench.processor.conn.close()


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_host_answers_a_good_request_beside_a_damaged_one(host_bench: _HostBench, data: st.DataObject) -> None:
    damaged = data.draw(st.sampled_from(host_bench.seeds()).flatmap(mutated), label="damaged")
    good = host_bench.purchase()
    responses = host_bench.processor.handle_batch([damaged, good])  # one group commit, as the server does
    assert len(responses) == 2
    if responses[0] is not None:
        CUP.decode(responses[0].body)  # whatever the host says must itself decode
    assert responses[1] is not None and responses[1].message["39"] == "00", responses[1]
    assert message.verify(CUP, responses[1].body, "cup-ecb", host_bench.store.require("mak"))


# --- the terminal's answer reader ----------------------------------------------------------

def _terminal_seed() -> tuple[CupMessages, Message, bytes, keys.KeyStore]:
    store = keys.KeyStore("12345678", TMK)
    store, _ = store.issue_field62("003", lambda n: bytes(range(1, n + 1)))
    config = TerminalConfig(tid="12345678", mid="123456789012345", merchant_name="possim 测试商户", tmk=TMK)
    cup = CupMessages(CUP, config, lambda n: bytes(n))
    from possim.terminal.messages import Card

    request = cup.purchase("000007", "000001", 1000, Card(PAN, "3012"), PIN, store)
    fields = {k: request[k] for k in ("2", "3", "4", "11", "25", "41", "42", "49", "60") if k in request}
    fields.update({"12": "101112", "13": "0102", "37": "000000000001", "38": "AB1234", "39": "00",
                   "59": "CI00512345CS008approved", "64": "00" * 8})
    answer = CUP.encode(CUP.message("0210", fields, tpdu="6000000581", header="603100000000"))
    return cup, request, message.sign(CUP, answer, "cup-ecb", store.require("mak")), store


TERMINAL_SEED = _terminal_seed()


@QUICK
@given(data=st.data())
def test_terminal_reads_any_damaged_answer(data: st.DataObject) -> None:
    cup, request, answer, store = TERMINAL_SEED
    assert cup.read_response(answer, request, store).code == "00"  # the undamaged answer is read
    blob = data.draw(mutated(answer))
    try:
        got = cup.read_response(blob, request, store)
    except PossimError as exc:
        assert "\n" not in str(exc)
        return
    parse_or_refuse = got.get("59")
    if parse_or_refuse is not None:
        try:
            parse_usage_tags(parse_or_refuse)
        except PossimError:
            pass


# --- the parsers behind the messages ----------------------------------------------------------

GB_TEXT = st.binary(max_size=60).map(lambda b: b.decode("gb18030", "ignore"))
TAG_TEXT = st.one_of(GB_TEXT, st.lists(st.tuples(st.text("ABCDRS", min_size=2, max_size=2),
                                                 st.integers(0, 12), st.text("案例申请abc123", max_size=8)),
                                       max_size=4).map(lambda items: "".join(f"{t}{n:03d}{v}" for t, n, v in items)))


@QUICK
@given(text=TAG_TEXT)
def test_usage_tags_at_the_terminal(text: str) -> None:
    try:
        parse_usage_tags(text)
    except PossimError:
        pass


@QUICK
@given(text=TAG_TEXT)
def test_usage_tags_at_the_host(text: str) -> None:
    try:
        parse_tags(text)
    except Refusal:
        pass


@QUICK
@given(text=st.one_of(st.text("0123456789", max_size=130), st.text("0123456789²١ x", max_size=70)))
def test_settlement_and_upload_field48(text: str) -> None:
    for parse in (parse_field48, parse_upload):
        try:
            parse(text)
        except Refusal:
            pass


@QUICK
@given(mode=st.sampled_from(["001", "003", "004"]), blob=st.binary(max_size=70))
def test_field62_any_bytes(mode: str, blob: bytes) -> None:
    try:
        keys.parse_field62(mode, blob, TMK)
    except PossimError:
        pass
