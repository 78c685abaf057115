"""``possim tui``: live traffic, decoded field by field, for a payment engineer.

The app owns no traffic logic: a source (bus, ``--traffic`` socket, tap or
demo) delivers batches of events from its own thread as ``TrafficBatch``
messages; the model buffers, filters, pairs and counts them; the widgets paint
what the model says. Anything the screen does can be done by the model and
the traffic layer without a screen.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Input, Tree

from possim.errors import PossimError
from possim.traffic import TrafficEvent
from possim.tui.cases import CaseLine, read_cases, return_path_lines
from possim.tui.export import export_events
from possim.tui.layout import FieldNode, message_tree
from possim.tui.model import DEFAULT_CAPACITY, Filter, Row, TrafficModel, parse_filter
from possim.tui.screens import ExportScreen, HelpScreen
from possim.tui.sources import Source
from possim.tui.widgets import CasesPanel, FieldTree, HexView, ListHeader, MessageList, StatsBar

DETAIL_INTERVAL = 0.2  # how often a followed (ever-changing) selection repaints the detail panes
STATS_INTERVAL = 0.25
CASES_INTERVAL = 2.0
RETURN_PATH_LINES = 500


class TrafficBatch(Message):
    """Events delivered by a source's reader thread, with its running dropped count."""

    def __init__(self, events: list[TrafficEvent], dropped: int) -> None:
        super().__init__()
        self.events = events
        self.dropped = dropped


class SourceEnded(Message):
    def __init__(self, reason: str | None) -> None:
        super().__init__()
        self.reason = reason


class TrafficApp(App[None]):
    TITLE = "possim tui"
    CSS = """
    #main { height: 1fr; }
    #list { height: 1fr; min-height: 6; }
    #detail { height: 1fr; min-height: 8; }
    #filter { dock: bottom; display: none; }
    #filter.open { display: block; }
    """

    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("slash", "filter", "Filter"),
        Binding("e", "errors_only", "Errors only"),
        Binding("p,space", "pause", "Pause"),
        Binding("f", "follow", "Follow"),
        Binding("m", "pair", "Pair"),
        Binding("x", "export", "Export"),
        Binding("c", "cases", "Cases"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        source: Source | None = None,
        *,
        unmask: bool = False,
        capacity: int = DEFAULT_CAPACITY,
        cases_db: str | Path | None = None,
        show_cases: bool = False,
        filter_text: str = "",
        tz: tzinfo | None = None,
        clock: Callable[[], float] = time.time,
        export_dir: str | Path = ".",
        cases_interval: float = CASES_INTERVAL,
    ) -> None:
        super().__init__()
        self.source = source
        self.unmask = unmask
        self.model = TrafficModel(capacity, parse_filter(filter_text))
        self.cases_db = cases_db
        self.show_cases = show_cases or cases_db is not None
        self.tz = tz
        self.clock = clock
        self.export_dir = Path(export_dir)
        self.cases_interval = cases_interval
        self.paused = False
        self.follow = True
        self.ended: str | None = None
        self.held: deque[TrafficEvent] = deque(maxlen=capacity)
        self.held_lost = 0
        self.last_export: tuple[Path, int] | None = None
        self._return_path: deque[CaseLine] = deque(maxlen=RETURN_PATH_LINES)
        self._cases_dirty = False
        self._detail_for: int | None = None
        if source is not None:
            self.sub_title = source.description
        self._list = MessageList(self.model, tz=tz, id="list")
        self._tree = FieldTree("no message selected", id="tree")
        self._hex = HexView(id="hex")
        self._cases = CasesPanel(id="cases")
        self._stats = StatsBar(id="stats")

    # -- layout -----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield self._stats
        with Vertical(id="main"):
            yield ListHeader()
            yield self._list
            with Horizontal(id="detail"):
                yield self._tree
                yield self._hex
                yield self._cases
        yield Input(placeholder="filter: mti=0200,0210 stan=000123 tid=12345678 rc=05 role=host dir=in errors",
                    id="filter")
        yield Footer()

    @property
    def message_list(self) -> MessageList:
        return self._list

    @property
    def field_tree(self) -> FieldTree:
        return self._tree

    @property
    def hex_view(self) -> HexView:
        return self._hex

    @property
    def cases_panel(self) -> CasesPanel:
        return self._cases

    def on_mount(self) -> None:
        self.field_tree.show_root = True
        self.hex_view.border_title = "bytes"
        self.field_tree.border_title = "fields"
        self.cases_panel.display = self.show_cases
        self.hex_view.set_narrow(self.show_cases)
        self.message_list.focus()
        self.refresh_stats()
        self.set_interval(STATS_INTERVAL, self.refresh_stats)
        self.set_interval(DETAIL_INTERVAL, self._refresh_detail_if_changed)
        if self.cases_db is not None:
            self.refresh_cases()
            self.set_interval(self.cases_interval, self.refresh_cases)
        else:
            self._show_return_path()
        if self.source is not None:
            self.source.start(self._deliver, self._source_ended)

    def on_unmount(self) -> None:
        if self.source is not None:
            self.source.stop()

    # -- traffic in -------------------------------------------------------------------------------
    def _deliver(self, events: list[TrafficEvent], dropped: int) -> None:
        """Called on the reader's thread; ``post_message`` is the thread-safe way in."""
        self.post_message(TrafficBatch(events, dropped))

    def _source_ended(self, reason: str | None) -> None:
        self.post_message(SourceEnded(reason))

    def feed(self, events: Iterable[TrafficEvent], dropped: int = 0) -> None:
        """Take events as if a source had delivered them (tests, benchmarks, embedding)."""
        self.on_traffic_batch(TrafficBatch(list(events), dropped))

    def on_traffic_batch(self, message: TrafficBatch) -> None:
        self.model.note_dropped(message.dropped)
        if self.paused:
            room = self.held.maxlen - len(self.held) if self.held.maxlen else len(message.events)
            self.held_lost += max(0, len(message.events) - room)
            self.held.extend(message.events)
            return
        self._ingest(message.events)

    def _ingest(self, events: list[TrafficEvent]) -> None:
        rows = self.model.add(events, self.clock())
        if not self._list.is_attached:
            return  # a batch that arrived while the screen was closing
        management = [r for r in rows if r.mti.startswith("08")]
        if management:
            lines = return_path_lines(management)
            if lines:
                self._return_path.extend(lines)
                self._cases_dirty = True
        self.message_list.sync(self.follow)
        if self._cases_dirty and self.cases_db is None:
            self._show_return_path()

    def on_source_ended(self, message: SourceEnded) -> None:
        if message.reason:
            self.ended = message.reason
            self.notify(message.reason, title="traffic source ended", severity="error", timeout=10)
        self.refresh_stats()

    # -- painting ---------------------------------------------------------------------------------
    def refresh_stats(self) -> None:
        if not self._stats.is_attached:
            return  # a timer that fired while the screen was closing
        mode = "ENDED" if self.ended else "PAUSED" if self.paused else "LIVE"
        source = self.source.description if self.source is not None else ""
        if self.ended:
            source += f" — {self.ended}"
        self._stats.show(
            self.model.stats(self.clock()), mode=mode + (" · follow" if self.follow else ""),
            held=len(self.held), filter_text=self.model.filter.text(), source=source)

    def _refresh_detail_if_changed(self) -> None:
        if not self._tree.is_attached:
            return
        if self.message_list.selected != self._detail_for:
            self.show_selected()

    def show_selected(self) -> None:
        """Fill the field tree and the hex pane for the selected row."""
        number = self.message_list.selected
        self._detail_for = number
        row = self.model.get(number) if number is not None else None
        if row is None:
            self.field_tree.show([], "no message selected")
            self.hex_view.show(None, "")
            return
        nodes, data, note = self._detail(row)
        self.field_tree.show(nodes, self._title(row))
        self.hex_view.show(data, note)

    def _title(self, row: Row) -> str:
        event = row.event
        parts = [f"#{row.number}", f"seq {event.seq}", "T→H" if row.toward_host else "H→T", row.mti or "????"]
        if row.name:
            parts.append(row.name)
        parts.append(f"{event.raw_len} bytes")
        if event.latency_ms is not None:
            parts.append(f"{event.latency_ms:.1f} ms")
        partner = self.model.partner(row)
        if partner is not None:
            parts.append(f"pair #{partner.number}")
        return "  ".join(parts)

    def _detail(self, row: Row) -> tuple[list[FieldNode], bytes | None, str]:
        event = row.event
        data = event.export_raw(self.unmask)
        if data is None:
            note = "bytes withheld: the frame did not decode (start possim with --unmask to see them)"
        elif self.unmask:
            note = "UNMASKED"
        elif data != event.raw:
            note = "card data replaced by stand-ins"
        else:
            note = ""
        dialect = self.model.dialects.get(event.dialect)
        if event.message is None or dialect is None:
            why = event.error or ("no dialect" if dialect is None else "not decoded")
            return [FieldNode("error", "did not decode", "", note=why)], data, note
        body_len = len(data) if data is not None else event.raw_len
        return message_tree(dialect, event.message, body_len, unmask=self.unmask), data, note

    @on(Tree.NodeHighlighted, "#tree")
    def _field_highlighted(self, event: Tree.NodeHighlighted[FieldNode]) -> None:
        node = event.node.data
        self.hex_view.set_highlight(node.span if node is not None else None)

    @on(MessageList.Moved)
    def _moved(self, event: MessageList.Moved) -> None:
        self.follow = event.to_end and not self.paused
        self.show_selected()
        self.refresh_stats()

    # -- keys -------------------------------------------------------------------------------------
    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused and self.held:
            held = list(self.held)
            self.held.clear()
            self._ingest(held)
            if self.held_lost:
                self.notify(f"{self.held_lost:,} messages did not fit the buffer while paused", severity="warning")
                self.held_lost = 0
        self.refresh_stats()

    def action_follow(self) -> None:
        self.follow = not self.follow
        if self.follow:
            self.message_list.sync(True)
            self.show_selected()
        self.refresh_stats()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = self.model.filter.text()
        box.add_class("open")
        box.focus()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        try:
            flt = parse_filter(event.value)
        except PossimError as exc:
            self.notify(str(exc), title="filter", severity="error")
            return
        self._apply_filter(flt)
        self._close_filter()

    def _close_filter(self) -> None:
        self.query_one("#filter", Input).remove_class("open")
        self.message_list.focus()

    def _apply_filter(self, flt: Filter) -> None:
        self.model.set_filter(flt)
        keep = self.message_list.cursor is not None
        self.message_list.sync(self.follow or not keep)
        if keep and self.message_list.selected is not None:
            self.message_list.select_number(self.message_list.selected)
        self.show_selected()
        self.refresh_stats()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("open"):
            self._close_filter()
            return
        if self.model.filter.active:
            self._apply_filter(parse_filter(""))

    def action_errors_only(self) -> None:
        self._apply_filter(self.model.filter.with_errors_only(not self.model.filter.errors_only))

    def action_pair(self) -> None:
        number = self.message_list.selected
        row = self.model.get(number) if number is not None else None
        partner = self.model.partner(row) if row is not None else None
        if partner is None:
            self.notify("no paired request/response in the buffer for this message", severity="warning")
            return
        if self.model.index_of(partner.number) is None:
            self.notify(f"its pair #{partner.number} is hidden by the filter", severity="warning")
            return
        self.follow = False
        self.message_list.select_number(partner.number)
        self.show_selected()
        self.refresh_stats()

    def action_export(self) -> None:
        stamp = datetime.fromtimestamp(self.clock(), self.tz).strftime("%Y%m%d-%H%M%S")
        default = str(self.export_dir / f"possim-traffic-{stamp}.jsonl")
        self.push_screen(ExportScreen(default, len(self.model), masked=not self.unmask), self._export_to)

    def _export_to(self, path: str | None) -> None:
        if not path:
            return
        events = [row.event for row in self.model.visible()]
        try:
            count = export_events(events, path, unmask=self.unmask)
        except PossimError as exc:
            self.notify(str(exc), title="export", severity="error")
            return
        self.last_export = (Path(path), count)
        self.notify(f"wrote {count:,} messages to {path}", title="export")

    def action_cases(self) -> None:
        self.show_cases = not self.show_cases
        self.cases_panel.display = self.show_cases
        self.hex_view.set_narrow(self.show_cases)
        if self.show_cases:
            if self.cases_db is not None:
                self.refresh_cases()
            else:
                self._show_return_path()

    # -- return cases -----------------------------------------------------------------------------
    def refresh_cases(self) -> None:
        if self.show_cases and self.cases_db is not None:
            self._read_cases(self.cases_db)

    @work(thread=True, exclusive=True, group="cases")
    def _read_cases(self, path: str | Path) -> None:
        try:
            lines = read_cases(path)
        except PossimError as exc:
            self.call_from_thread(self.cases_panel.show, [], f"cases: {exc}")
            return
        self.call_from_thread(self.cases_panel.show, lines, f"return cases ({len(lines)}) — {path}")

    def _show_return_path(self) -> None:
        self._cases_dirty = False
        if self.show_cases and self._cases.is_attached:
            self.cases_panel.show(list(self._return_path),
                                  "return-path messages seen (801-807; no --cases-db)")
