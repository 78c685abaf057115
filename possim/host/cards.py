"""Card authorization: is this card good for this amount, and is the PIN right?

The issuer's side of a purchase or balance inquiry, in the order a real
issuer checks: the card is known (or provisioned from ``default_card``), not
lost, stolen or blocked, not expired, the PIN verifies (tries are counted and
kept, so a third wrong PIN locks the card: 75), the amount is within the
card's per-transaction limit and the balance covers it. Each failure is a
:class:`Refusal` naming the situation; ``codes.py`` turns it into field 39.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from possim.errors import PossimError
from possim.host.clock import local_date
from possim.host.codes import Refusal, Situation
from possim.host.config import HostConfig
from possim.host.ledger import Account, Ledger
from possim.iso8583 import Message
from possim.security import field53, pinblock


class PresentedCard(NamedTuple):
    """What the request says about the card: PAN and the expiry the terminal read.

    A named tuple: immutable, and built on every financial request, which a frozen dataclass
    makes several times dearer."""

    pan: str
    expiry: str | None  # YYMM, from field 14 or track 2

    def __repr__(self) -> str:
        return f"PresentedCard(pan=...{self.pan[-4:]}, expiry={self.expiry})"


def presented_card(msg: Message) -> PresentedCard:
    """PAN from field 2, else track 2 (field 35); expiry from field 14, else track 2."""
    fields = msg.fields
    track = fields.get("35")
    pan = fields.get("2")
    expiry = fields.get("14")
    if track and "=" in track:
        track_pan, _, rest = track.partition("=")
        pan = pan or track_pan
        if expiry is None and len(rest) >= 4 and rest[:4].isdigit():
            expiry = rest[:4]
    if not pan or not pan.isdigit() or not 12 <= len(pan) <= 19:
        raise Refusal(Situation.FORMAT_ERROR, "no card number in field 2 or 35")
    if expiry is not None and (len(expiry) != 4 or not expiry.isdigit()):
        raise Refusal(Situation.FORMAT_ERROR, "field 14: expected YYMM")
    return PresentedCard(pan, expiry)


def parse_amount(msg: Message) -> int:
    """Field 4 in fen; absent, zero or not digits is an invalid amount (13)."""
    value = msg.fields.get("4")
    if value is None:
        raise Refusal(Situation.FORMAT_ERROR, "field 4 (amount) is required")
    if not value.isdigit() or int(value) <= 0:
        raise Refusal(Situation.INVALID_AMOUNT, "field 4: amount must be more than 0 fen")
    return int(value)


def _expired(expiry: str, month: tuple[int, int]) -> bool:
    """Whether a YYMM expiry is before ``month`` (year, month), the current local month."""
    return (2000 + int(expiry[:2]), int(expiry[2:])) < month


class Authorizer:
    def __init__(self, ledger: Ledger, config: HostConfig) -> None:
        self.ledger = ledger
        self.config = config
        self._month: tuple[datetime, tuple[int, int]] | None = None  # the last ``now`` and its local month
        self._expired: dict[tuple[str, tuple[int, int]], bool] = {}

    def _is_expired(self, expiry: str, now: datetime) -> bool:
        """:func:`_expired` for the local month of ``now`` (a group shares one ``now``; cards repeat)."""
        month = self._month
        if month is None or (month[0] is not now and month[0] != now):
            today = local_date(now)
            month = self._month = (now, (today.year, today.month))
        key = (expiry, month[1])
        known = self._expired.get(key)
        if known is None:
            if len(self._expired) >= 4096:
                self._expired.clear()
            known = self._expired[key] = _expired(expiry, month[1])
        return known

    def account(self, card: PresentedCard, now: datetime) -> Account:
        """The card's account; an unknown card is provisioned from ``default_card`` or refused (14)."""
        account = self.ledger.account(card.pan)
        if account is not None:
            return account
        default = self.config.default_card
        if default is None:
            raise Refusal(Situation.CARD_UNKNOWN, "card not known to the host")
        expiry = default.expiry or card.expiry or "3012"
        return self.ledger.provision(card.pan, default, expiry, now)

    def check_card(self, account: Account, card: PresentedCard, now: datetime) -> None:
        if account.status == "normal":
            pass
        elif account.status == "lost":
            raise Refusal(Situation.CARD_LOST, "card reported lost")
        if account.status == "stolen":
            raise Refusal(Situation.CARD_STOLEN, "card reported stolen")
        if account.status == "blocked":
            raise Refusal(Situation.DO_NOT_HONOUR, "card blocked by the issuer")
        for expiry in (account.expiry, card.expiry):
            if expiry is not None and self._is_expired(expiry, now):
                raise Refusal(Situation.CARD_EXPIRED, f"card expired {expiry[2:]}/{expiry[:2]}")

    def check_pin(self, account: Account, msg: Message, pik: bytes | None) -> None:
        """Verify the PIN block in field 52 (format per field 53); count wrong tries.

        A card without a PIN on file is not PIN-checked (a provisioned card,
        or a quick-pass card); a card with ``pin_required`` refuses a request
        that carries none. A wrong-PIN refusal raises *after* the try counter is
        written, and the processor commits declines, so the count survives."""
        block = msg.fields.get("52")
        if account.pin_hash is None:
            return
        max_tries = self.config.defaults.max_pin_tries
        if max_tries and account.pin_tries >= max_tries:
            raise Refusal(Situation.PIN_TRIES_EXCEEDED, f"{account.pin_tries} wrong PINs")
        if block is None:
            if account.pin_required:
                raise Refusal(Situation.WRONG_PIN, "the card needs a PIN and field 52 is absent")
            return
        if pik is None:
            raise Refusal(Situation.WRONG_PIN, "no PIK held for this terminal to decipher field 52")
        pin = self._decipher(msg, bytes.fromhex(block), account.pan, pik)
        if pin is not None and account.pin_matches(pin):
            if account.pin_tries:
                self.ledger.set_pin_tries(account.pan, 0)
            return
        tries = account.pin_tries + 1
        self.ledger.set_pin_tries(account.pan, tries)
        if max_tries and tries >= max_tries:
            raise Refusal(Situation.PIN_TRIES_EXCEEDED, f"wrong PIN, {tries} tries")
        raise Refusal(Situation.WRONG_PIN, f"wrong PIN ({tries} of {max_tries or 'unlimited'} tries)")

    @staticmethod
    def _decipher(msg: Message, block: bytes, pan: str, pik: bytes) -> str | None:
        control = msg.get("53")
        try:
            if control is not None:
                return field53.decipher_pin(field53.check(control, pik), block, pan, pik)
            return pinblock.decipher(block, pan, pik).pin
        except PossimError:
            return None  # a block that does not decipher under this PIK and PAN is a wrong PIN

    @staticmethod
    def check_amount(account: Account, amount_fen: int) -> None:
        if account.limit_fen is not None and amount_fen > account.limit_fen:
            raise Refusal(Situation.OVER_LIMIT, f"amount over the card's limit of {account.limit_fen} fen")
        if amount_fen > account.balance_fen:
            raise Refusal(Situation.INSUFFICIENT_FUNDS, "balance does not cover the amount")
