"""Settlement figures: the field 48 totals of an 0500 and the lines of an 0320.

Field 48 of a settlement (docs/protocol.md "Settlement (0500) field 48") is
62 digits: for domestic cards, then for foreign cards, the debit total n12
and count n3 (purchases: money to the merchant), the credit total n12 and
count n3 (refunds), and a result digit (0 in the request; 1 balanced, 2 not
balanced, 3 error in the response). Voided and reversed transactions are not
counted.

Batch upload (0320, 60.3 = 201) field 48: count n2, then per transaction the
PAN length n2, the PAN left-aligned and padded with 0 to 19 digits, the
amount n12 and the STAN n6.
"""

from __future__ import annotations

from dataclasses import dataclass

from possim.host.codes import Refusal, Situation

RESULT_BALANCED = "1"
RESULT_UNBALANCED = "2"
RESULT_ERROR = "3"

PART_DIGITS = 31
FIELD48_DIGITS = 2 * PART_DIGITS
UPLOAD_LINE_DIGITS = 2 + 19 + 12 + 6


@dataclass(frozen=True)
class PartTotals:
    """One half of field 48 (domestic or foreign)."""

    debit_fen: int = 0
    debit_count: int = 0
    credit_fen: int = 0
    credit_count: int = 0

    def digits(self, result: str) -> str:
        return (f"{self.debit_fen:012d}{self.debit_count:03d}{self.credit_fen:012d}{self.credit_count:03d}"
                f"{result}")

    def to_json(self) -> dict[str, int]:
        return {"debit_fen": self.debit_fen, "debit_count": self.debit_count,
                "credit_fen": self.credit_fen, "credit_count": self.credit_count}


@dataclass(frozen=True)
class BatchTotals:
    domestic: PartTotals = PartTotals()
    foreign: PartTotals = PartTotals()

    def field48(self, domestic_result: str = "0", foreign_result: str = "0") -> str:
        return self.domestic.digits(domestic_result) + self.foreign.digits(foreign_result)

    def to_json(self) -> dict[str, object]:
        return {"domestic": self.domestic.to_json(), "foreign": self.foreign.to_json()}


def parse_field48(value: str) -> BatchTotals:
    """The terminal's totals from a settlement request; a short or non-digit 48 is a format error."""
    if len(value) < PART_DIGITS or not (value.isascii() and value.isdigit()):  # "²".isdigit() is true
        raise Refusal(Situation.FORMAT_ERROR,
                      f"field 48: expected {FIELD48_DIGITS} digits of settlement totals, got {len(value)}")
    value = value.ljust(FIELD48_DIGITS, "0")  # a terminal without foreign cards may omit the second half

    def part(p: str) -> PartTotals:
        return PartTotals(int(p[0:12]), int(p[12:15]), int(p[15:27]), int(p[27:30]))

    return BatchTotals(part(value[:PART_DIGITS]), part(value[PART_DIGITS:FIELD48_DIGITS]))


@dataclass(frozen=True)
class UploadLine:
    pan: str
    amount_fen: int
    stan: str

    def __repr__(self) -> str:  # never the full PAN
        return f"UploadLine(pan=...{self.pan[-4:]}, amount_fen={self.amount_fen}, stan={self.stan})"


def parse_upload(value: str) -> list[UploadLine]:
    if len(value) < 2 or not (value.isascii() and value.isdigit()):
        raise Refusal(Situation.FORMAT_ERROR, "field 48: expected a 2-digit count and upload lines")
    count = int(value[:2])
    body = value[2:]
    if len(body) < count * UPLOAD_LINE_DIGITS:
        raise Refusal(Situation.FORMAT_ERROR,
                      f"field 48: count {count} needs {count * UPLOAD_LINE_DIGITS} digits of lines, "
                      f"got {len(body)}")
    lines = []
    for i in range(count):
        chunk = body[i * UPLOAD_LINE_DIGITS:(i + 1) * UPLOAD_LINE_DIGITS]
        pan_len = int(chunk[:2])
        if not 12 <= pan_len <= 19:
            raise Refusal(Situation.FORMAT_ERROR, f"field 48 line {i + 1}: PAN length {pan_len} not 12..19")
        lines.append(UploadLine(chunk[2:2 + pan_len], int(chunk[21:33]), chunk[33:39]))
    return lines


def build_upload(lines: list[UploadLine]) -> str:
    """The terminal side of field 48 in a batch upload (tests and the terminal simulator use it)."""
    out = f"{len(lines):02d}"
    for line in lines:
        out += f"{len(line.pan):02d}{line.pan.ljust(19, '0')}{line.amount_fen:012d}{line.stan}"
    return out
