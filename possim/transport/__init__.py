"""Byte streams under the link layer: TCP (asyncio), serial (pyserial URLs), in-memory pipes.

``open_url``/``serve_url`` pick the transport from the URL; ``FramedConnection``
runs any :mod:`possim.link` framer over any of them; ``MuxedConnection`` adds
request/response matching on top. ``serve_framed_tcp`` serves framed TCP on
callbacks, for a host answering many terminals.
"""

from possim.transport.base import ConnectionClosed, Handler, Server, Transport, TransportError
from possim.transport.fdio import FdTransport
from possim.transport.framed import FrameNotAcknowledged, FramedConnection
from possim.transport.framedtcp import CALLBACK_FRAMINGS, FrameChannel, FramedTcpServer, serve_framed_tcp
from possim.transport.memory import MemoryTransport, memory_pair
from possim.transport.pty import open_pty, open_pty_pair
from possim.transport.muxed import MuxedConnection, RequestTimeout
from possim.transport.serialport import SerialTransport, open_serial, parse_serial_url
from possim.transport.tcp import TcpServer, TcpTransport, connect_tcp, serve_tcp
from possim.transport.urls import open_url, serve_url, tcp_address

__all__ = [
    "CALLBACK_FRAMINGS", "FrameChannel", "FramedTcpServer", "serve_framed_tcp", "tcp_address",
    "ConnectionClosed", "FdTransport", "FrameNotAcknowledged", "FramedConnection", "Handler", "MemoryTransport",
    "MuxedConnection", "RequestTimeout", "SerialTransport", "Server", "TcpServer", "TcpTransport",
    "Transport", "TransportError", "connect_tcp", "memory_pair", "open_serial", "open_pty", "open_pty_pair", "open_url",
    "parse_serial_url", "serve_tcp", "serve_url",
]
