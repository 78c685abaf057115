"""The traffic bus: every frame in or out of a host, terminal or tap as an event.

Publishers (``LinkTap`` per link) put events on a ``TrafficBus``; readers --
the TUI, recorders, the ``--traffic`` socket -- subscribe with bounded,
drop-oldest queues so no reader can slow the link. Exports (socket stream,
JSON Lines, PCAP) are masked unless ``unmask=True``. See docs/traffic.md.
"""

from possim.traffic.bus import DEFAULT_MAXSIZE, Subscription, TrafficBus
from possim.traffic.event import Direction, Role, TrafficEvent, make_event
from possim.traffic.jsonform import event_from_json, event_to_json
from possim.traffic.jsonl import JsonlWriter, ReplayFrame, read_jsonl, replay_frames
from possim.traffic.pairing import RequestPairer
from possim.traffic.pcap import PcapSegment, PcapWriter, frame_bytes, read_pcap
from possim.traffic.recorder import Recorder, record_jsonl, record_pcap
from possim.traffic.server import (
    TrafficAttachment,
    TrafficServer,
    TrafficServerThread,
    attach,
    parse_traffic_url,
)
from possim.traffic.tap import LinkTap

__all__ = [
    "DEFAULT_MAXSIZE",
    "Direction",
    "JsonlWriter",
    "LinkTap",
    "PcapSegment",
    "PcapWriter",
    "Recorder",
    "ReplayFrame",
    "RequestPairer",
    "Role",
    "Subscription",
    "TrafficAttachment",
    "TrafficBus",
    "TrafficEvent",
    "TrafficServer",
    "TrafficServerThread",
    "attach",
    "event_from_json",
    "event_to_json",
    "frame_bytes",
    "make_event",
    "parse_traffic_url",
    "read_jsonl",
    "read_pcap",
    "record_jsonl",
    "record_pcap",
    "replay_frames",
]
