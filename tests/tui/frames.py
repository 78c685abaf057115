"""Deterministic CUP POS traffic for the TUI tests: real frames of the cup-pos dialect on a real bus.

Frame layout and field formats: /work/shared/DOMAIN.md; the card data is made up for these tests.
"""

from __future__ import annotations

from collections.abc import Iterator

from possim.iso8583 import Message, get_dialect
from possim.traffic import LinkTap, TrafficBus, TrafficEvent

CUP = get_dialect("cup-pos")
PAN = "6212142000000000012"
TRACK2 = PAN + "=30122011234567890"
PIN_BLOCK = "9CA4E8A0FA2C49B3"
ICC = "9F2608A1B2C3D4E5F607185A0862121420000000125F340101"
KEYS = "0123456789ABCDEF" + "A1B2C3D4" + "FEDCBA9876543210" + "D4C3B2A1"
TID = "12345678"
MID = "123456789012345"
LINK = "tcp://127.0.0.1:5000#1"
T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def _head(request: bool) -> dict[str, str]:
    return {"tpdu": "6005810000" if request else "6000000581", "header": "603100000000"}


def sign_in(stan: str) -> bytes:
    return CUP.encode(Message("0800", {"11": stan, "41": TID, "42": MID, "60": "00000001003",
                                       "63": "001"}, **_head(True)))


def sign_in_response(stan: str) -> bytes:
    return CUP.encode(Message("0810", {"11": stan, "39": "00", "41": TID, "42": MID, "60": "00000001003",
                                       "62": KEYS}, **_head(False)))


def purchase(stan: str, amount_fen: int, tid: str = TID) -> bytes:
    return CUP.encode(Message("0200", {
        "2": PAN, "3": "000000", "4": f"{amount_fen:012d}", "11": stan, "22": "051", "25": "00",
        "35": TRACK2, "41": tid, "42": MID, "49": "156", "52": PIN_BLOCK, "53": "2600000000000000",
        "55": ICC, "60": "22000001000"}, **_head(True)))


def purchase_response(stan: str, amount_fen: int, rc: str, tid: str = TID) -> bytes:
    fields = {"3": "000000", "4": f"{amount_fen:012d}", "11": stan, "37": f"3181{stan}00", "39": rc,
              "41": tid, "42": MID, "49": "156", "60": "22000001000"}
    return CUP.encode(Message("0210", fields, **_head(False)))


def return_application(stan: str) -> bytes:
    f59 = "RR004MOVERC00813800000000RI005ID-01RP005PR-01"
    return CUP.encode(Message("0800", {"11": stan, "41": TID, "42": MID, "59": f59, "60": "00000001801"},
                              **_head(True)))


def return_application_response(stan: str, case_id: str, state: str) -> bytes:
    f59 = f"CI{len(case_id):03d}{case_id}CS{len(state):03d}{state}"
    return CUP.encode(Message("0810", {"11": stan, "39": "00", "41": TID, "42": MID, "59": f59,
                                       "60": "00000001801"}, **_head(False)))


GARBAGE = bytes.fromhex("600581000060310000000200FFFF")  # a bitmap naming undefined fields, cut short


def script() -> list[tuple[str, bytes]]:
    """A short, fixed conversation as the host sees it: (direction, body)."""
    out: list[tuple[str, bytes]] = [("in", sign_in("000001")), ("out", sign_in_response("000001"))]
    amounts = [1200, 5000, 880, 150000, 3300]
    codes = ["00", "00", "51", "00", "55"]
    for i, (amount, rc) in enumerate(zip(amounts, codes), start=2):
        stan = f"{i:06d}"
        out += [("in", purchase(stan, amount)), ("out", purchase_response(stan, amount, rc))]
    out += [("in", GARBAGE)]
    out += [("in", return_application("000008")), ("out", return_application_response("000008", "1", "applied"))]
    out += [("in", purchase("000009", 4200))]  # left unanswered
    return out


def publish_script(bus: TrafficBus, start: float = T0, step: float = 0.125) -> list[TrafficEvent]:
    """Publish the script on ``bus`` through a host-side LinkTap with fixed times; returns the events."""
    times: Iterator[float] = (start + i * step for i in range(10_000))
    tap = LinkTap(bus, LINK, role="host", dialect=CUP, framing="len2", clock=lambda: next(times))
    events = []
    for direction, body in script():
        event = tap.frame(direction, body)  # type: ignore[arg-type]
        assert event is not None, "publish_script needs a subscriber on the bus"
        events.append(event)
    return events


def script_events() -> list[TrafficEvent]:
    """The script's events as a subscriber of a fresh bus receives them."""
    bus = TrafficBus()
    sub = bus.subscribe(maxsize=10_000)
    publish_script(bus)
    return sub.drain()
