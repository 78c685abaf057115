"""Raw message steps: build one ISO 8583 message from a scenario, MAC it, send it, read the answer.

This is the jPOS client-simulator half of the scenario engine: the QA
engineer writes the fields, possim does the bytes. The MAC is the one chore
it takes over, because no one can write field 64 by hand: with ``mac: auto``
a message after sign-in is signed with the working keys of the terminal in
field 41 -- the keys the host holds for it when possim runs the host, else
the keys a raw sign-in in this scenario delivered.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Mapping

from possim.errors import PossimError
from possim.iso8583 import Dialect, Message
from possim.scenario.matchers import as_text
from possim.scenario.outcome import Observation
from possim.security import message as mac_message
from possim.security.keys import KeyStore
from possim.transport import ConnectionClosed, FramedConnection, TransportError, open_url

SIGN_IN_CODES = ("001", "003", "004")
PLACEHOLDER_MAC = "0000000000000000"
RESPONSE_TIMEOUT = 15.0

# (mac algorithm, MAK) for a TID, or None
KeyLookup = Callable[[str], "tuple[str, bytes] | None"]


class RawClient:
    def __init__(self, url: str, dialect: Dialect, *, tmks: Mapping[str, bytes],
                 mac_algorithms: Mapping[str, str], terminal_defaults: Mapping[str, Mapping[str, str]],
                 host_keys: KeyLookup | None = None, timeout: float = RESPONSE_TIMEOUT) -> None:
        self.url = url
        self.dialect = dialect
        self.tmks = dict(tmks)
        self.mac_algorithms = dict(mac_algorithms)
        self.terminal_defaults = terminal_defaults
        self.host_keys = host_keys
        self.timeout = timeout
        self._keys: dict[str, KeyStore] = {}
        self._conn: FramedConnection | None = None

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _link(self) -> FramedConnection:
        if self._conn is None or self._conn.closed:
            try:
                self._conn = FramedConnection(await open_url(self.url), self.dialect.default_framing)
            except (TransportError, OSError) as exc:
                raise PossimError(f"send: cannot reach the host at {self.url}: {exc}") from None
            self._conn.start()
        return self._conn

    def build(self, args: Mapping[str, Any], tid_default: str | None) -> Message:
        mti = as_text(args["mti"])
        fields = args.get("fields") or {}
        plain = {k: as_text(v) for k, v in fields.items() if "." not in str(k)}
        tid = plain.get("41") or tid_default
        defaults = self.terminal_defaults.get(tid or "", {})
        for number, value in defaults.items():
            plain.setdefault(number, value)
        msg = self.dialect.message(mti, plain, tpdu=as_text(args.get("tpdu", "6005810000")),
                                   header=as_text(args.get("header", "603100000000")))
        for key, value in fields.items():
            if "." in str(key):
                try:
                    msg.set(str(key), as_text(value))
                except PossimError as exc:
                    raise PossimError(f"send: field {key}: {exc}") from None
        return msg

    def _mac_key(self, tid: str | None) -> tuple[str, bytes] | None:
        if tid is None:
            return None
        if self.host_keys is not None:
            found = self.host_keys(tid)
            if found is not None:
                return found
        store = self._keys.get(tid)
        if store is not None and store.mak is not None:
            return self.mac_algorithms.get(tid, "cup-ecb"), store.mak
        return None

    def encode(self, msg: Message, mac: Any) -> bytes:
        mode = "auto" if mac is None else as_text(mac)
        is_sign_in = msg.mti in ("0800", "0810") and (msg.get("60.3") or "") in SIGN_IN_CODES
        if mode == "none" or (mode == "auto" and is_sign_in):
            return self.dialect.encode(msg)
        if mode not in ("auto", "wrong"):
            if len(mode) != 16:
                raise PossimError(f"send mac: expected auto, none, wrong or 16 hex digits, got {mode!r}")
            msg.fields["64"] = mode.upper()
            return self.dialect.encode(msg)
        key = self._mac_key(msg.get("41"))
        if key is None:
            if mode == "wrong":
                msg.fields["64"] = "FFFFFFFFFFFFFFFF"
                return self.dialect.encode(msg)
            return self.dialect.encode(msg)  # no keys known yet: sent without a MAC
        msg.fields["64"] = PLACEHOLDER_MAC
        body = mac_message.sign(self.dialect, self.dialect.encode(msg), key[0], key[1])
        if mode == "wrong":
            body = body[:-1] + bytes([body[-1] ^ 0xFF])
        return body

    def _learn_keys(self, request: Message, response: Message) -> None:
        tid = request.get("41")
        if not (tid and tid in self.tmks and request.mti == "0800" and response.get("39") == "00"):
            return
        mode = request.get("60.3") or ""
        field62 = response.get("62")
        if mode in SIGN_IN_CODES and field62:
            try:
                self._keys[tid] = KeyStore(tid, self.tmks[tid]).apply_field62(mode, bytes.fromhex(field62))
            except PossimError:
                self._keys.pop(tid, None)

    async def send(self, args: Mapping[str, Any], tid_default: str | None) -> Observation:
        msg = self.build(args, tid_default)
        body = self.encode(msg, args.get("mac"))
        request = self.dialect.decode(body)
        link = await self._link()
        try:
            await link.send_frame(body)
            async with asyncio.timeout(self.timeout):
                raw = await link.recv_frame()
        except TimeoutError:
            await self.close()
            return {"request": request, "response": None, "error": f"no response within {self.timeout:g} s"}
        except ConnectionClosed as exc:
            await self.close()
            return {"request": request, "response": None, "error": f"the host closed the link ({exc})"}
        try:
            response = self.dialect.decode(raw)
        except PossimError as exc:
            return {"request": request, "response": None, "error": f"response does not decode: {exc}"}
        self._learn_keys(request, response)
        return {"request": request, "response": response, "mti": response.mti, "fields": response,
                "header": response.header, "tpdu": response.tpdu}
