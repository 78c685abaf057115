"""The one interface every byte stream offers to the layers above.

A transport moves bytes and nothing else: no framing, no retries, no
knowledge of ISO 8583. The framed connection (:mod:`possim.transport.framed`)
puts a :mod:`possim.link` framer on top, so the same framer runs unchanged over
TCP, a serial port or an in-memory pipe.
"""

from __future__ import annotations

import abc
import logging
from typing import Awaitable, Callable

from possim.errors import PossimError

log = logging.getLogger(__name__)


class TransportError(PossimError):
    """A URL that cannot be opened or served, or an I/O failure on an open link."""


class ConnectionClosed(TransportError):
    """The peer closed the link (or it was closed locally) before the operation finished."""


class Transport(abc.ABC):
    """An open, bidirectional byte stream."""

    #: Where the other end is, for logs and the traffic bus: ``tcp://127.0.0.1:5000``, ``/dev/pts/3``.
    peer: str = ""

    @abc.abstractmethod
    async def read(self, max_bytes: int = 65536) -> bytes:
        """Some bytes (at least one), or ``b""`` once the stream has ended."""

    @abc.abstractmethod
    async def write(self, data: bytes) -> None:
        """Hand all of ``data`` to the stream, waiting while it is congested."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the stream; safe to call more than once."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool: ...

    async def __aenter__(self) -> "Transport":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.peer}>"


Handler = Callable[[Transport], Awaitable[None]]


async def run_handler(handler: Handler, transport: Transport, errors: list[BaseException], where: str) -> None:
    """Run one link's handler, then close its transport. A failure is kept in ``errors`` and logged, not
    raised: a server goes on serving when one link misbehaves (cancellation passes through)."""
    try:
        await handler(transport)
    except Exception as exc:
        errors.append(exc)
        log.warning("%s: handler failed: %s", where, exc)
    finally:
        await transport.close()


class Server(abc.ABC):
    """Something accepting links and running a handler for each."""

    #: The URL it actually listens on (with the port filled in when 0 was asked for).
    url: str = ""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop accepting, end running handlers, release resources."""

    async def __aenter__(self) -> "Server":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
