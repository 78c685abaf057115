"""The screen's widgets. They paint what the model and the layout give them; no decisions here."""

from __future__ import annotations

from datetime import tzinfo

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import DataTable, Static, Tree
from textual.widgets.tree import TreeNode

from possim.tui import columns
from possim.tui.hexdump import hex_dump, line_of
from possim.tui.layout import FieldNode, Span
from possim.tui.model import Stats, TrafficModel


class MessageList(ScrollView, can_focus=True):
    """The message list, drawn line by line from the model (the Line API).

    Only the rows on screen are ever turned into text, so 50,000 buffered
    messages cost no more to draw than 40. The cursor is kept by the row's
    arrival number, so it stays on the same message while old ones are
    evicted or the filter changes.
    """

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last / follow", show=False),
    ]

    DEFAULT_CSS = """
    MessageList { height: 1fr; }
    MessageList > .message-list--cursor { background: $accent 60%; text-style: bold; }
    """
    COMPONENT_CLASSES = {"message-list--cursor"}

    class Moved(Message):
        """The user moved the cursor (``to_end``: onto the newest row, which means follow)."""

        def __init__(self, number: int | None, to_end: bool) -> None:
            super().__init__()
            self.number = number
            self.to_end = to_end

    def __init__(self, model: TrafficModel, *, tz: tzinfo | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self.tz = tz
        self.selected: int | None = None  # arrival number of the selected row
        self._width = len(columns.header_text())

    @property
    def cursor(self) -> int | None:
        """Index of the selected row in the filtered view, if it is visible."""
        return self.model.index_of(self.selected) if self.selected is not None else None

    def sync(self, follow: bool) -> None:
        """Take in what the model gained or lost; in follow mode select and show the newest row."""
        count = len(self.model)
        self.virtual_size = Size(self._width, count)
        if follow and count:
            self.selected = self.model.row(count - 1).number
            self.scroll_to(y=max(0, count - self.scrollable_content_region.height), animate=False,
                           immediate=True)
            # a jump in size (a new filter) is only scrollable once the layout has caught up
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)
        self.refresh()

    def select_number(self, number: int) -> None:
        self.selected = number
        self._scroll_cursor_into_view()
        self.refresh()

    def _scroll_cursor_into_view(self) -> None:
        index = self.cursor
        if index is None:
            return
        top = int(self.scroll_y)
        height = max(1, self.scrollable_content_region.height)
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False, immediate=True)

    def _move_to(self, index: int) -> None:
        count = len(self.model)
        if not count:
            return
        index = max(0, min(count - 1, index))
        self.selected = self.model.row(index).number
        self._scroll_cursor_into_view()
        self.refresh()
        self.post_message(self.Moved(self.selected, to_end=index == count - 1))

    def action_cursor(self, delta: int) -> None:
        index = self.cursor
        if index is None:
            index = len(self.model) - 1 if delta < 0 else 0
            self._move_to(index)
            return
        self._move_to(index + delta)

    def action_page(self, direction: int) -> None:
        step = max(1, self.scrollable_content_region.height - 1)
        index = self.cursor if self.cursor is not None else 0
        self._move_to(index + direction * step)

    def action_first(self) -> None:
        self._move_to(0)

    def action_last(self) -> None:
        self._move_to(len(self.model) - 1)

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_y) + event.y
        if 0 <= index < len(self.model):
            self._move_to(index)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= len(self.model):
            return Strip.blank(width, base)
        row = self.model.row(index)
        partner = self.model.partner(row)
        text = columns.row_text(row, partner.number if partner else None, self.tz)
        if row.number == self.selected:
            text.stylize(self.get_component_rich_style("message-list--cursor", partial=True))
        strip = Strip(list(text.render(self.app.console))).apply_style(base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)


class ListHeader(Static):
    """The column titles above the message list."""

    DEFAULT_CSS = "ListHeader { height: 1; text-style: bold; background: $boost; }"

    def __init__(self) -> None:
        super().__init__(Text(columns.header_text(), no_wrap=True, overflow="ignore"))


class FieldTree(Tree[FieldNode]):
    """Fields of the selected message; highlighting one lights its bytes in the hex pane."""

    DEFAULT_CSS = "FieldTree { width: 1fr; border: round $primary 50%; }"

    def show(self, nodes: list[FieldNode], title: str) -> None:
        self.clear()
        self.root.set_label(title)
        for node in nodes:
            self._add(self.root, node)
        self.root.expand_all()

    def _add(self, parent: TreeNode[FieldNode], node: FieldNode) -> None:
        if node.children:
            branch = parent.add(node.label(), data=node, expand=True)
            for child in node.children:
                self._add(branch, child)
        else:
            parent.add_leaf(node.label(), data=node)


class HexView(VerticalScroll):
    """The frame's bytes with the selected field's range highlighted."""

    DEFAULT_CSS = """
    HexView { width: 76; border: round $primary 50%; }
    HexView.narrow { width: 46; }
    HexView > Static { width: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data: bytes = b""
        self.highlight: Span | None = None
        self._body = Static("", id="hex-body")

    def compose(self):  # type: ignore[no-untyped-def]
        yield self._body

    def show(self, data: bytes | None, note: str = "", highlight: Span | None = None) -> None:
        self.data = data or b""
        self.border_subtitle = note
        self.set_highlight(highlight)

    def set_highlight(self, span: Span | None) -> None:
        self.highlight = span
        if not self.data:
            self._body.update(self.border_subtitle or "")
            return
        per_line = self.per_line
        self._body.update(hex_dump(self.data, span, per_line=per_line))
        if span is not None:
            self.scroll_to(y=max(0, line_of(span[0], per_line) - 1), animate=False)

    @property
    def per_line(self) -> int:
        """16 bytes a line, or 8 when the pane is narrowed to make room for the cases panel."""
        return 8 if self.has_class("narrow") else 16

    def set_narrow(self, narrow: bool) -> None:
        self.set_class(narrow, "narrow")
        self.set_highlight(self.highlight)


class StatsBar(Static):
    """Mode, counters, rate, response-code histogram and the active filter, on one or two lines."""

    DEFAULT_CSS = "StatsBar { height: 2; background: $boost; padding: 0 1; }"

    def show(self, stats: Stats, *, mode: str, held: int, filter_text: str, source: str) -> None:
        line1 = Text(no_wrap=True, overflow="ellipsis")
        mode_style = {"LIVE": "bold green", "PAUSED": "bold yellow", "ENDED": "bold red"}.get(mode, "bold")
        line1.append(f" {mode} ", mode_style + " reverse")
        if held:
            line1.append(f" +{held} held", "yellow")
        line1.append(f"  {stats.rate:,.1f} msg/s", "bold")
        line1.append(f"  total {stats.total:,}  shown {stats.shown:,}  buffered {stats.buffered:,}")
        line1.append(f"  req {stats.requests:,}  rsp {stats.responses:,}")
        line1.append(f"  declined {stats.declined:,}", "red" if stats.declined else "")
        line1.append(f"  undecodable {stats.decode_errors:,}", "red" if stats.decode_errors else "")
        line1.append(f"  dropped {stats.dropped:,}", "bold red" if stats.dropped else "")
        line1.append(f"  evicted {stats.evicted:,}", "dim")
        line2 = Text(no_wrap=True, overflow="ellipsis")
        line2.append(" RC ", "bold")
        if stats.response_codes:
            for code, count in list(stats.response_codes.items())[:12]:
                line2.append(f" {code}:{count:,}", "green" if code == "00" else "red")
        else:
            line2.append(" -", "dim")
        line2.append("   filter: ", "bold")
        line2.append(filter_text or "none", "cyan" if filter_text else "dim")
        line2.append(f"   {source}", "dim")
        self.update(Text("\n").join([line1, line2]))


class CasesPanel(DataTable):
    """Return cases and their states (from the host DB), or the return-path messages seen."""

    DEFAULT_CSS = "CasesPanel { width: 44; height: 1fr; border: round $secondary; display: none; }"

    def on_mount(self) -> None:
        self.add_columns("case", "TID", "state", "detail")
        self.cursor_type = "row"

    def show(self, lines: list, title: str) -> None:  # list[CaseLine]
        if not self.is_attached:
            return  # a read that finished while the screen was closing
        self.border_title = title
        self.clear()
        for line in lines[-500:]:
            self.add_row(line.case, line.tid, line.state, line.detail)
