"""Which response code (field 39) the host answers in which situation.

This is the one place the host maps a situation to a code; the codes'
meanings live in the dialect file (``protocols/cup-pos.yaml``,
``response_codes``), the situations are the table in docs/protocol.md
("Refusals and response codes"). Handlers raise :class:`Refusal` with a
situation name and a detail for the log and the F59 ``DR`` text; they never
write a code literal.
"""

from __future__ import annotations

from enum import Enum

from possim.errors import PossimError


class Situation(str, Enum):
    APPROVED = "approved"
    TERMINAL_UNKNOWN = "terminal_unknown"          # also: deregistered
    TERMINAL_UNBOUND = "terminal_unbound"          # registered only, or unbound
    MERCHANT_MISMATCH = "merchant_mismatch"        # 42 is not the bound merchant / not the case's merchant
    NOT_SIGNED_IN = "not_signed_in"                # no key session (never signed in, or signed off)
    MAC_ERROR = "mac_error"                        # F64 absent or wrong
    DUPLICATE = "duplicate"                        # same TID, batch, STAN, MTI already seen
    BATCH_OUT_OF_STEP = "batch_out_of_step"        # 60.2 is not the host's open batch
    FORMAT_ERROR = "format_error"                  # a required field absent or out of range
    NOT_SUPPORTED = "not_supported"                # unknown MTI, processing code, 60.1 or 60.3
    CARD_UNKNOWN = "card_unknown"
    CARD_LOST = "card_lost"
    CARD_STOLEN = "card_stolen"
    DO_NOT_HONOUR = "do_not_honour"                # card blocked by the issuer
    CARD_EXPIRED = "card_expired"
    WRONG_PIN = "wrong_pin"
    PIN_TRIES_EXCEEDED = "pin_tries_exceeded"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    OVER_LIMIT = "over_limit"
    INVALID_AMOUNT = "invalid_amount"
    ORIGINAL_NOT_FOUND = "original_not_found"      # void/refund/reversal original, or a return case
    AMOUNT_MISMATCH = "amount_mismatch"            # void amount, refund over what is left
    INVALID_TRANSACTION = "invalid_transaction"    # not allowed now (voided original, window, case state)
    SYSTEM_ERROR = "system_error"


#: situation -> field 39. Keep in step with docs/protocol.md "Refusals and response codes".
RESPONSE_CODE: dict[Situation, str] = {
    Situation.APPROVED: "00",
    Situation.TERMINAL_UNKNOWN: "97",
    Situation.TERMINAL_UNBOUND: "58",
    Situation.MERCHANT_MISMATCH: "03",
    Situation.NOT_SIGNED_IN: "22",
    Situation.MAC_ERROR: "A0",
    Situation.DUPLICATE: "94",
    Situation.BATCH_OUT_OF_STEP: "77",
    Situation.FORMAT_ERROR: "30",
    Situation.NOT_SUPPORTED: "40",
    Situation.CARD_UNKNOWN: "14",
    Situation.CARD_LOST: "41",
    Situation.CARD_STOLEN: "43",
    Situation.DO_NOT_HONOUR: "05",
    Situation.CARD_EXPIRED: "54",
    Situation.WRONG_PIN: "55",
    Situation.PIN_TRIES_EXCEEDED: "75",
    Situation.INSUFFICIENT_FUNDS: "51",
    Situation.OVER_LIMIT: "61",
    Situation.INVALID_AMOUNT: "13",
    Situation.ORIGINAL_NOT_FOUND: "25",
    Situation.AMOUNT_MISMATCH: "64",
    Situation.INVALID_TRANSACTION: "12",
    Situation.SYSTEM_ERROR: "96",
}

#: Codes after which the terminal must sign in again: the response header's
#: processing requirement is set to 3 (docs/protocol.md "Frame and common fields").
SIGN_IN_AGAIN = frozenset({RESPONSE_CODE[Situation.NOT_SIGNED_IN], RESPONSE_CODE[Situation.MAC_ERROR],
                           RESPONSE_CODE[Situation.BATCH_OUT_OF_STEP]})


def code_for(situation: Situation) -> str:
    return RESPONSE_CODE[situation]


class Refusal(PossimError):
    """A request the host answers with a non-approval code.

    ``detail`` says why in words (logged, and sent as F59 ``DR`` on the
    management messages); it never holds a PAN, PIN or key."""

    def __init__(self, situation: Situation, detail: str = "") -> None:
        super().__init__(f"{situation.value}: {detail}" if detail else situation.value)
        self.situation = situation
        self.detail = detail

    @property
    def code(self) -> str:
        return RESPONSE_CODE[self.situation]
