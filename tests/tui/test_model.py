"""The screen's model without a screen: columns, filtering, pairing, eviction, counters, field spans."""

from __future__ import annotations

import pytest

from possim.errors import PossimError
from possim.traffic import LinkTap, TrafficBus
from possim.tui.columns import header_text, row_text
from possim.tui.hexdump import hex_dump
from possim.tui.layout import field_spans, message_tree
from possim.tui.model import Filter, TrafficModel, format_amount, parse_filter

from .frames import CUP, KEYS, PAN, PIN_BLOCK, T0, purchase, purchase_response, script_events, sign_in_response


def _model(capacity: int = 1000) -> TrafficModel:
    model = TrafficModel(capacity)
    model.add(script_events(), now=T0 + 2)
    return model


def test_rows_carry_the_list_columns_from_the_dialect() -> None:
    model = _model()
    rows = model.visible()
    declined = rows[7]
    assert (declined.mti, declined.name, declined.stan, declined.amount, declined.rc, declined.rc_text) == (
        "0210", "Purchase", "000004", "8.80", "51", "Insufficient funds")
    assert declined.problem and not declined.toward_host
    assert rows[0].name == "Sign-in" and rows[0].toward_host
    garbage = rows[12]
    assert garbage.mti == "" and garbage.error and garbage.problem
    line = row_text(declined, 7).plain
    assert "Insufficient funds" in line and "↔7" in line and "125.0ms" in line
    assert len(line) == len(header_text())


def test_requests_and_responses_pair_both_ways() -> None:
    model = _model()
    rows = model.visible()
    assert model.partner(rows[2]) is rows[3] and model.partner(rows[3]) is rows[2]
    assert model.partner(rows[-1]) is None  # the last purchase was never answered
    assert model.partner(rows[12]) is None  # undecodable


@pytest.mark.parametrize("text, expected", [
    ("mti=0200", 6), ("mti=0200,0210", 11), ("stan=000004", 2), ("rc=51,55", 2), ("errors", 3),
    ("mti=0210 errors", 2), ("tid=99999999", 0), ("dir=in", 9), ("role=host", 16), ("", 16),
])
def test_filters(text: str, expected: int) -> None:
    model = _model()
    model.set_filter(parse_filter(text))
    assert len(model) == expected
    assert all(model.filter.matches(r) for r in model.visible())
    assert parse_filter(model.filter.text()) == model.filter


def test_bad_filter_terms_are_refused_by_name() -> None:
    with pytest.raises(PossimError, match="'colour=red'"):
        parse_filter("mti=0200 colour=red")
    with pytest.raises(PossimError, match="no value"):
        parse_filter("rc=")


def test_buffer_is_bounded_and_evicts_oldest_with_its_pairs_and_filtered_view() -> None:
    model = TrafficModel(capacity=5, flt=Filter(mti=frozenset({"0210"})))
    model.add(script_events(), now=T0)
    assert model.buffered == 5
    numbers = [r.number for r in model.visible()]
    assert numbers == [12]  # rows 12..16 remain; 12 is the only 0210 among them
    stats = model.stats(T0)
    assert stats.evicted == 11 and stats.total == 16
    first = model.get(12)
    assert first is not None and model.partner(first) is None  # its request (11) was evicted
    assert model.get(1) is None


def test_stats_count_codes_errors_and_the_arrival_rate() -> None:
    model = TrafficModel()
    events = script_events()
    model.add(events[:8], now=100.2)
    model.add(events[8:], now=101.7)
    stats = model.stats(now=101.9)
    assert stats.response_codes == {"00": 5, "51": 1, "55": 1}
    assert (stats.requests, stats.responses, stats.decode_errors, stats.declined) == (8, 7, 1, 2)
    assert stats.rate == pytest.approx(16 / 5)
    assert model.stats(now=200.0).rate == 0


def test_visible_index_survives_eviction_and_filter_changes() -> None:
    model = TrafficModel(capacity=10)
    model.add(script_events(), now=T0)
    assert model.index_of(16) == 9 and model.row(9).number == 16
    model.set_filter(parse_filter("mti=0200"))
    assert model.index_of(16) == len(model) - 1 and model.index_of(15) is None


def test_amount_format() -> None:
    assert format_amount("000000000100") == "1.00"
    assert format_amount("000000150000") == "1500.00"
    assert format_amount("") == ""


def test_field_spans_cover_the_frame_exactly() -> None:
    raw = purchase("000002", 1200)
    msg = CUP.decode(raw)
    spans = field_spans(CUP, msg, len(raw))
    ordered = sorted(spans.values())
    assert ordered[0][0] == 0 and ordered[-1][1] == len(raw)
    assert all(a[1] == b[0] for a, b in zip(ordered, ordered[1:]))  # contiguous, no gaps or overlaps
    start, end = spans["2"]
    assert raw[start:end] == bytes.fromhex("19" + PAN + "0")  # LL prefix 19, BCD left-aligned, pad nibble
    start, end = spans["41"]
    assert raw[start:end] == b"12345678"
    assert raw[slice(*spans["mti"])] == bytes.fromhex("0200")


def test_field_tree_masks_secrets_and_locates_subfields_and_tlv() -> None:
    raw = purchase("000002", 1200)
    nodes = {n.key: n for top in message_tree(CUP, CUP.decode(raw), len(raw)) for n in top.walk()}
    assert nodes["2"].value == "621214*********0012"
    assert nodes["52"].value == "*" * 16 and PIN_BLOCK not in nodes["52"].value
    assert "=" in nodes["35"].value and "30122011234567890" not in nodes["35"].value
    assert nodes["55.5A"].value == "*" * 16
    assert raw[slice(*nodes["55.9F26"].span)] == bytes.fromhex("9F2608A1B2C3D4E5F60718")
    assert raw[slice(*nodes["60.2"].span)] == bytes.fromhex("000001")
    assert nodes["4"].value == "000000001200"
    unmasked = {n.key: n for top in message_tree(CUP, CUP.decode(raw), unmask=True) for n in top.walk()}
    assert unmasked["2"].value == PAN


def test_keys_in_a_sign_in_response_are_masked_with_their_subfields() -> None:
    raw = sign_in_response("000001")
    nodes = {n.key: n for top in message_tree(CUP, CUP.decode(raw), len(raw)) for n in top.walk()}
    assert KEYS not in nodes["62"].value and set(nodes["62"].value) == {"*"}
    assert nodes["39"].note == "Approved"


def test_hex_dump_highlights_only_the_range() -> None:
    data = bytes(range(40))
    text = hex_dump(data, (17, 20))
    lines = text.plain.split("\n")
    assert len(lines) == 3 and lines[1].startswith("0010  10 11 12 13")
    styled = {text.plain[s.start:s.end] for s in text.spans if s.style}
    assert "11" in styled and "13" in styled and "10" not in styled and "14" not in styled


def test_latency_comes_from_the_bus_pairing() -> None:
    bus = TrafficBus()
    sub = bus.subscribe()
    times = iter([10.0, 10.25])
    tap = LinkTap(bus, "tcp://127.0.0.1:5000#1", role="host", dialect=CUP, framing="len2", clock=lambda: next(times))
    tap.inbound(purchase("000002", 100))
    tap.outbound(purchase_response("000002", 100, "00"))
    model = TrafficModel()
    model.add(sub.drain(), now=10.3)
    assert model.row(1).event.latency_ms == pytest.approx(250.0)
