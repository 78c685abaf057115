"""The CUP requests a terminal sends and how it reads the answers: no I/O, no clock.

Which fields each message carries is the contract in docs/protocol.md; field
formats come from the dialect file. Building a message needs only the values
and the keys (for the PIN block and the MAC), so every message a terminal can
send is testable without a host, and the same builder serves the terminal
simulator, tests and scenarios.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from possim.errors import PossimError
from possim.iso8583 import Dialect, Message
from possim.iso8583.masking import mask_pan
from possim.security import field53
from possim.security import message as mac_message
from possim.security.keys import KeyStore
from possim.terminal.config import TerminalConfig
from possim.terminal.journal import JournalEntry, Totals

RandomBytes = Callable[[int], bytes]

# 60.1 transaction type codes and 60.3 network management codes (DOMAIN.md, docs/protocol.md)
TYPE_MANAGEMENT = "00"
TYPE_BALANCE = "01"
TYPE_PURCHASE = "22"
TYPE_VOID = "23"
TYPE_REFUND = "25"
NMI_NONE = "000"
NMI_SIGN_OFF = "002"
NMI_SETTLE = "201"
NMI_UPLOAD_END_UNBALANCED = "202"
NMI_UPLOAD_END_BALANCED = "207"
NMI_ECHO = "301"
RETURN_STEPS = {
    "return_apply": "801", "return_status": "802", "return_appeal": "803", "refund_confirm": "804",
    "return_withdraw": "805", "unbind": "806", "deregister": "807",
}
# Codes after which the host expects a new sign-in before anything else.
SIGN_IN_AGAIN = frozenset({"22", "77", "A0"})
# Header processing-requirement digit (docs/protocol.md): 3 = sign in again.
PROCESSING_SIGN_IN = "3"
UPLOAD_LINES_PER_MESSAGE = 8  # 2 + 8 x 39 digits fits field 48's 322


class BadResponse(PossimError):
    """An answer that is not the answer to our request (wrong MTI, STAN, TID) or cannot be read."""


class MacMismatch(PossimError):
    """An answer whose MAC is wrong or missing: it cannot be trusted."""


# --- the card ----------------------------------------------------------------

_TRACK2 = re.compile(r"(?P<pan>[0-9]{12,19})[=D](?P<expiry>[0-9]{4})(?P<rest>[0-9]*)")


@dataclass(frozen=True)
class Card:
    """What the (simulated) card reader produced. ``repr`` never shows the PAN or the track."""

    pan: str
    expiry: str  # YYMM
    track2: str | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9]{12,19}", self.pan):
            raise PossimError(f"card: PAN must be 12 to 19 digits, got {len(self.pan)} characters")
        if not re.fullmatch(r"[0-9]{2}(0[1-9]|1[0-2])", self.expiry):
            raise PossimError("card: expiry must be YYMM")

    @classmethod
    def from_track2(cls, track2: str) -> "Card":
        match = _TRACK2.fullmatch(track2.strip().upper())
        if match is None:
            raise PossimError("card: track 2 must be PAN (12-19 digits) '=' YYMM and service/discretionary digits")
        return cls(match["pan"], match["expiry"], track2.strip().upper().replace("D", "="))

    @property
    def masked(self) -> str:
        return mask_pan(self.pan)

    @property
    def swiped(self) -> bool:
        return self.track2 is not None

    def entry_mode(self, with_pin: bool) -> str:
        """Field 22: 02 magnetic stripe / 01 key entry, then 1 PIN can be entered / 2 cannot."""
        return ("02" if self.swiped else "01") + ("1" if with_pin else "2")

    def __repr__(self) -> str:
        return f"Card(pan={self.masked!r}, swiped={self.swiped})"


# --- field 59 usage tags -----------------------------------------------------

USAGE_ENCODING = "gb18030"


def encode_usage_tags(tags: Sequence[tuple[str, str]] | Mapping[str, str]) -> str:
    """CUP usage-tag records: tag (2 characters) + length (3 digits, bytes in GB18030) + value."""
    items = tags.items() if isinstance(tags, Mapping) else tags
    out = []
    for tag, value in items:
        if len(tag) != 2:
            raise PossimError(f"field 59: tag {tag!r} must be 2 characters")
        size = len(value.encode(USAGE_ENCODING))
        if size > 999:
            raise PossimError(f"field 59: tag {tag}: value of {size} bytes is over 999")
        out.append(f"{tag}{size:03d}{value}")
    return "".join(out)


def parse_usage_tags(text: str) -> dict[str, str]:
    raw = text.encode(USAGE_ENCODING)
    out: dict[str, str] = {}
    i = 0
    while i < len(raw):
        if i + 5 > len(raw):
            raise BadResponse(f"field 59: usage tag cut short at byte {i}")
        tag = raw[i:i + 2].decode("ascii", "replace")
        length = raw[i + 2:i + 5]
        if not length.isdigit():
            raise BadResponse(f"field 59: tag {tag}: length {length!r} at byte {i + 2} is not 3 digits")
        n = int(length)
        if i + 5 + n > len(raw):
            raise BadResponse(f"field 59: tag {tag}: length says {n} bytes, {len(raw) - i - 5} left at byte {i + 5}")
        try:
            out[tag] = raw[i + 5:i + 5 + n].decode(USAGE_ENCODING)
        except UnicodeDecodeError:  # the length cuts a character: not GB18030 text
            raise BadResponse(f"field 59: tag {tag}: value at byte {i + 5} is not GB18030 text") from None
        i += 5 + n
    return out


# --- settlement and batch upload field 48 --------------------------------------

def settlement_field48(totals: Totals) -> str:
    """Domestic debit amount n12 + count n3 + credit amount n12 + count n3 + result 0; then foreign (zeros)."""
    domestic = (f"{totals.debit_fen:012d}{totals.debit_count:03d}"
                f"{totals.credit_fen:012d}{totals.credit_count:03d}0")
    return domestic + "0" * 31


def settlement_result(field48: str | None) -> str | None:
    """The domestic result digit the host set: 1 balanced, 2 not balanced, 3 error."""
    if field48 is None or len(field48) < 31:
        return None
    return field48[30]


def upload_field48(lines: Sequence[JournalEntry]) -> str:
    """Count n2, then per line: PAN length n2 + PAN padded with 0 to 19 + amount n12 + STAN n6."""
    out = [f"{len(lines):02d}"]
    for line in lines:
        pan = line.pan or ""
        out.append(f"{len(pan):02d}{pan.ljust(19, '0')}{line.amount_fen or 0:012d}{line.stan}")
    return "".join(out)


# --- the builder -----------------------------------------------------------------


@dataclass(frozen=True)
class HostAnswer:
    """A response that belongs to our request and whose MAC (if any) verified."""

    message: Message
    code: str
    text: str
    sign_in_again: bool

    def get(self, field: str) -> str | None:
        return self.message.get(field)


class CupMessages:
    """Builds a terminal's requests for one dialect and one terminal configuration."""

    def __init__(self, dialect: Dialect, config: TerminalConfig,
                 random_bytes: RandomBytes | None = None) -> None:
        self.dialect = dialect
        self.config = config
        self.random_bytes = random_bytes

    # --- common ------------------------------------------------------------

    def base(self, mti: str, stan: str, batch: str, tx_type: str, nmi: str = NMI_NONE) -> Message:
        msg = self.dialect.message(mti, {"11": stan, "41": self.config.tid, "42": self.config.mid},
                                   tpdu=self.config.tpdu.upper(), header=self.config.header)
        msg["60"] = f"{tx_type}{batch}{nmi}"
        return msg

    def encode(self, msg: Message, keys: KeyStore | None) -> bytes:
        """Encode; with keys (after sign-in) the MAC is computed with the MAK and written into field 64."""
        if keys is None:
            msg.remove("64")
            return self.dialect.encode(msg)
        msg["64"] = "0" * 16
        body = self.dialect.encode(msg)
        signed = mac_message.sign(self.dialect, body, self.config.mac_alg, keys.require("mak"))
        msg["64"] = self.dialect.decode(signed)["64"]
        return signed

    def _card_fields(self, msg: Message, card: Card) -> None:
        if card.track2 is not None:
            msg["35"] = card.track2
        else:
            msg["2"] = card.pan
        msg["14"] = card.expiry

    def _pin_fields(self, msg: Message, card: Card, pin: str | None, keys: KeyStore) -> None:
        msg["22"] = card.entry_mode(pin is not None)
        if pin is None:
            return
        sc = field53.for_keys(keys.require("pik"))
        msg["26"] = "06"
        msg["52"] = field53.encipher_pin(sc, pin, card.pan, keys.require("pik")).hex().upper()
        msg["53"] = sc.to_field()

    # --- network management ------------------------------------------------

    def sign_in(self, stan: str, batch: str) -> Message:
        msg = self.base("0800", stan, batch, TYPE_MANAGEMENT, self.config.key_mode)
        msg["63"] = self.config.operator.rjust(3, "0")
        return msg

    def sign_off(self, stan: str, batch: str) -> Message:
        return self.base("0820", stan, batch, TYPE_MANAGEMENT, NMI_SIGN_OFF)

    def echo(self, stan: str, batch: str) -> Message:
        return self.base("0820", stan, batch, TYPE_MANAGEMENT, NMI_ECHO)

    def return_step(self, step: str, stan: str, batch: str, tags: Mapping[str, str]) -> Message:
        """The private 0800 messages 801-807 of the return-and-deregister path; data in field 59."""
        try:
            nmi = RETURN_STEPS[step]
        except KeyError:
            raise PossimError(f"return step: expected one of {', '.join(RETURN_STEPS)}, got {step!r}") from None
        msg = self.base("0800", stan, batch, TYPE_MANAGEMENT, nmi)
        clean = {k: v for k, v in tags.items() if v}
        if clean:
            msg["59"] = encode_usage_tags(clean)
        return msg

    # --- financial ---------------------------------------------------------

    def purchase(self, stan: str, batch: str, amount_fen: int, card: Card, pin: str | None,
                 keys: KeyStore) -> Message:
        msg = self.base("0200", stan, batch, TYPE_PURCHASE)
        self._card_fields(msg, card)
        msg["3"] = "000000"
        msg["4"] = f"{amount_fen:012d}"
        msg["25"] = "00"
        msg["49"] = self.config.currency
        self._pin_fields(msg, card, pin, keys)
        return msg

    def void(self, stan: str, batch: str, original: JournalEntry, card: Card, pin: str | None,
             keys: KeyStore) -> Message:
        msg = self.base("0200", stan, batch, TYPE_VOID)
        self._card_fields(msg, card)
        msg["3"] = "200000"
        msg["4"] = f"{original.amount_fen or 0:012d}"
        msg["25"] = "00"
        msg["37"] = original.rrn or ""
        if original.auth_code:
            msg["38"] = original.auth_code
        msg["49"] = self.config.currency
        msg["61"] = f"{original.batch}{original.stan}"
        self._pin_fields(msg, card, pin, keys)
        return msg

    def refund(self, stan: str, batch: str, amount_fen: int, card: Card, original_rrn: str,
               original_date: str, keys: KeyStore, original_batch: str = "000000",
               original_stan: str = "000000", pin: str | None = None) -> Message:
        msg = self.base("0220", stan, batch, TYPE_REFUND)
        self._card_fields(msg, card)
        msg["3"] = "200000"
        msg["4"] = f"{amount_fen:012d}"
        msg["25"] = "00"
        msg["37"] = original_rrn
        msg["49"] = self.config.currency
        msg["61"] = f"{original_batch}{original_stan}{original_date}"
        self._pin_fields(msg, card, pin, keys)
        return msg

    def balance(self, stan: str, batch: str, card: Card, pin: str | None, keys: KeyStore) -> Message:
        msg = self.base("0200", stan, batch, TYPE_BALANCE)
        self._card_fields(msg, card)
        msg["3"] = self.config.balance_processing_code
        msg["25"] = "00"
        msg["49"] = self.config.currency
        self._pin_fields(msg, card, pin, keys)
        return msg

    def reversal(self, original: JournalEntry, reason: str) -> Message:
        """0400 from the stored original: its 2/3/4/14/22/25/37/38/49/60/61, 11 = its STAN, 39 = the reason."""
        req = original.request
        msg = self.dialect.message("0400", {"11": original.stan, "41": self.config.tid, "42": self.config.mid},
                                   tpdu=self.config.tpdu.upper(), header=self.config.header)
        if original.pan:
            msg["2"] = original.pan
        for key in ("3", "4", "14", "22", "25", "37", "38", "49", "60"):
            if key in req:
                msg[key] = req[key]
        msg["39"] = reason
        msg["61"] = req.get("61") or f"{original.batch}{original.stan}"
        return msg

    def settlement(self, stan: str, batch: str, totals: Totals) -> Message:
        msg = self.base("0500", stan, batch, TYPE_MANAGEMENT, NMI_SETTLE)
        msg["48"] = settlement_field48(totals)
        msg["49"] = self.config.currency
        msg["63"] = self.config.operator.rjust(3, "0")
        return msg

    def batch_upload(self, stan: str, batch: str, lines: Sequence[JournalEntry]) -> Message:
        if not 0 < len(lines) <= UPLOAD_LINES_PER_MESSAGE:
            raise PossimError(f"batch upload: 1 to {UPLOAD_LINES_PER_MESSAGE} lines per message, got {len(lines)}")
        msg = self.base("0320", stan, batch, TYPE_MANAGEMENT, NMI_SETTLE)
        msg["48"] = upload_field48(lines)
        return msg

    def batch_upload_end(self, stan: str, batch: str, count: int, balanced: bool = False) -> Message:
        msg = self.base("0320", stan, batch, TYPE_MANAGEMENT,
                        NMI_UPLOAD_END_BALANCED if balanced else NMI_UPLOAD_END_UNBALANCED)
        msg["48"] = f"{count:04d}"
        return msg

    # --- answers -----------------------------------------------------------

    def read_response(self, body: bytes, request: Message, keys: KeyStore | None) -> HostAnswer:
        """Decode and check an answer to ``request``.

        Raises :class:`BadResponse` if it does not belong to the request, and
        :class:`MacMismatch` if its MAC does not verify -- or if an approval
        comes without one when the request carried a MAC (an unauthenticated
        approval must not be trusted; a refusal without a MAC is how the host
        answers a request whose own MAC failed, so it is accepted).
        """
        try:
            msg = self.dialect.decode(body)
        except PossimError as exc:
            raise BadResponse(f"response: {exc}") from None
        expected_mti = request.response_mti()
        if msg.mti != expected_mti:
            raise BadResponse(f"response: MTI {msg.mti}, expected {expected_mti}")
        for key in ("11", "41"):
            if msg.get(key) != request.get(key):
                raise BadResponse(f"response: field {key} is {msg.get(key)!r}, expected {request.get(key)!r}")
        code = msg.get("39")
        if code is None:
            raise BadResponse("response: field 39 (response code) is absent")
        if keys is not None and keys.mak is not None:
            if "64" in msg:
                if not mac_message.verify(self.dialect, body, self.config.mac_alg, keys.mak):
                    raise MacMismatch(f"response {msg.mti} STAN {msg.get('11')}: MAC does not verify")
            elif code == "00":
                raise MacMismatch(f"response {msg.mti} STAN {msg.get('11')}: approved without a MAC")
        header = msg.header or ""
        sign_in_again = code in SIGN_IN_AGAIN or (len(header) >= 6 and header[5] == PROCESSING_SIGN_IN)
        return HostAnswer(msg, code, self.dialect.response_text(code) or "Unknown response code", sign_in_again)


def request_for_journal(msg: Message) -> dict[str, Any]:
    """What the journal keeps of a request: enough to reverse it, never track 2 or the PIN block."""
    return {k: v for k, v in msg.fields.items() if k not in ("2", "35", "36", "45", "52", "53", "55", "64")}
