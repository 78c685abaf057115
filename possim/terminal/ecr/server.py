"""The terminal side of the ECR port: a till's command in, a terminal function run, its result out.

The link (STX frames, ACK/NAK, resends) is possim.link's state machine under a
FramedConnection; this module only turns a command frame into a call on the
:class:`~possim.terminal.functions.Terminal` and its Result into a result
frame, as the protocol file says. Commands are served one at a time, as a
terminal with one card reader and one PIN pad does.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from possim.errors import PossimError
from possim.terminal.ecr.protocol import EcrError, EcrProtocol, CommandSpec
from possim.terminal.messages import Card
from possim.terminal.result import Result
from possim.transport import ConnectionClosed, FrameNotAcknowledged, FramedConnection, Transport

log = logging.getLogger(__name__)

ERROR_UNKNOWN_COMMAND = "E1"
ERROR_BAD_FIELD = "E2"
ERROR_TERMINAL = "E3"


class TerminalFunctions(Protocol):
    """What the ECR server calls: the terminal's functions by name (possim.terminal.functions.Terminal)."""

    def __getattr__(self, name: str) -> Any: ...


class EcrServer:
    def __init__(self, terminal: Any, protocol: EcrProtocol) -> None:
        self.terminal = terminal
        self.protocol = protocol

    # --- one command --------------------------------------------------------

    async def handle(self, payload: bytes) -> bytes:
        """The result frame's data for one command frame's data."""
        try:
            values = self.protocol.decode(payload)
        except EcrError as exc:
            return self._error(None, ERROR_BAD_FIELD, str(exc))
        code = values.get("command")
        command = self.protocol.by_code.get(str(code)) if code is not None else None
        if command is None:
            return self._error(code, ERROR_UNKNOWN_COMMAND, f"command {code!r} is not in {self.protocol.name}")
        try:
            kwargs = self._arguments(command, values)
        except PossimError as exc:
            return self._error(code, ERROR_BAD_FIELD, str(exc))
        function = getattr(self.terminal, command.function, None)
        if function is None:
            return self._error(code, ERROR_UNKNOWN_COMMAND, f"the terminal has no function {command.function}")
        log.info("ecr: %s %s", command.name, self.protocol.describe(values))
        try:
            result: Result = await function(**kwargs)
        except PossimError as exc:
            return self._error(code, ERROR_BAD_FIELD, str(exc))
        except Exception as exc:  # the till must get an answer whatever went wrong inside
            log.exception("ecr: %s failed", command.name)
            return self._error(code, ERROR_TERMINAL, f"{type(exc).__name__}: {exc}")
        return self.protocol.encode({"command": code, **self._result_values(result)})

    def _arguments(self, command: CommandSpec, values: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for tag_name, param in command.params.items():
            if tag_name in values:
                kwargs[param] = values[tag_name]
        if command.card != "none":
            card = self._card(values)
            if card is None and command.card == "required":
                raise EcrError(f"{command.name}: no card data (card_track2, or card_pan and card_expiry)")
            if card is not None:
                kwargs["card"] = card
            if values.get("pin"):
                kwargs["pin"] = str(values["pin"])
        return kwargs

    @staticmethod
    def _card(values: dict[str, Any]) -> Card | None:
        if values.get("card_track2"):
            return Card.from_track2(str(values["card_track2"]))
        if values.get("card_pan") and values.get("card_expiry"):
            return Card(str(values["card_pan"]), str(values["card_expiry"]))
        return None

    def _result_values(self, result: Result) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for tag_name, source in self.protocol.result_map.items():
            if source.startswith("data."):
                value = result.data.get(source[5:])
            else:
                value = getattr(result, source, None)
            if isinstance(value, bool):
                value = "1" if value else "0"
            if value is not None and value != "":
                out[tag_name] = value
        return out

    def _error(self, code: Any, error: str, detail: str) -> bytes:
        message = self.protocol.errors.get(error, "Error")
        values: dict[str, Any] = {"command": code if isinstance(code, str) and len(code) <= 2 else None,
                                  "result_code": error, "message": message, "local": "1"}
        if "detail" in self.protocol.by_name:
            values["detail"] = detail[:999]
        return self.protocol.encode(values)

    # --- a serial line ------------------------------------------------------

    def connection(self, transport: Transport) -> FramedConnection:
        return FramedConnection(transport, self.protocol.framing, ack_timeout=self.protocol.ack_timeout,
                                max_retries=self.protocol.max_retries)

    async def serve(self, transport: Transport) -> None:
        """Serve commands on one line until it closes (a serial port never does, until stopped)."""
        conn = self.connection(transport)
        try:
            while True:
                payload = await conn.recv_frame()
                reply = await self.handle(payload)
                try:
                    await conn.send_frame(reply)
                except FrameNotAcknowledged as exc:
                    log.warning("ecr: the till never acknowledged the result: %s", exc)
        except ConnectionClosed:
            pass
        finally:
            await conn.close()
