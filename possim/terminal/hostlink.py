"""The terminal's line to its host: one request, one answer, a deadline.

A POS does one exchange at a time, so there is no multiplexing here. What
matters is telling apart the two ways an exchange can fail, because they need
different handling: if the request never left the terminal (no connection),
nothing happened at the host and there is nothing to reverse; once it was
written, silence means the host may have acted, so the caller must reverse.

After a timeout the connection is dropped, so a late answer can never be read
as the answer to the next request; the next exchange reconnects. For the same
reason a connection holding a frame nobody asked for (a duplicated answer) is
replaced before the next request goes out.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from possim.errors import PossimError
from possim.transport import ConnectionClosed, FramedConnection, TransportError, open_url

FrameObserver = Callable[[str, bytes, str], None]


class LinkDown(PossimError):
    """The host could not be reached: the request was not sent."""


class NoAnswer(PossimError):
    """The request went out and no answer came back in time (or the link dropped)."""


class HostLink:
    def __init__(self, url: str, framing: str = "len2", *, on_frame: FrameObserver | None = None,
                 connect_timeout: float = 10.0) -> None:
        self.url = url
        self.framing = framing
        self.on_frame = on_frame
        self.connect_timeout = connect_timeout
        self._conn: FramedConnection | None = None
        self._answers_read = 0  # frames taken from the current connection

    async def _connect(self) -> FramedConnection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        await self.close()
        try:
            async with asyncio.timeout(self.connect_timeout):
                transport = await open_url(self.url)
        except TransportError as exc:
            raise LinkDown(str(exc)) from None
        except (OSError, TimeoutError) as exc:
            raise LinkDown(f"host {self.url}: cannot connect ({exc or 'timed out'})") from None
        self._conn = FramedConnection(transport, self.framing, on_frame=self.on_frame)
        self._conn.start()
        self._answers_read = 0
        return self._conn

    async def exchange(self, body: bytes, timeout: float) -> bytes:
        """Send one request and return the first frame that comes back."""
        conn = await self._connect()
        if conn.frames_in > self._answers_read:
            # frames nobody asked for are waiting (a duplicate answer, one that came after a bad one):
            # the line is out of step, and the next frame on it would be taken for this request's answer
            await self.close()
            conn = await self._connect()
        try:
            await conn.send_frame(body)
        except (ConnectionClosed, OSError) as exc:
            await self.close()
            raise NoAnswer(f"host {self.url}: link failed while sending ({exc})") from None
        try:
            async with asyncio.timeout(timeout):
                answer = await conn.recv_frame()
            self._answers_read += 1
            return answer
        except TimeoutError:
            await self.close()
            raise NoAnswer(f"host {self.url}: no answer within {timeout:g} s") from None
        except (ConnectionClosed, OSError) as exc:
            await self.close()
            raise NoAnswer(f"host {self.url}: link closed before the answer ({exc})") from None

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
