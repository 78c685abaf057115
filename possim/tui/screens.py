"""Pop-up screens: help on ``?`` and the export dialog."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓  j k", "move through the message list (leaves follow mode)"),
    ("PgUp PgDn  Home End", "page, first message, newest message (End turns follow on)"),
    ("f", "follow: keep the newest message selected and in view"),
    ("p  space", "pause / resume the display (traffic is held, not lost, while paused)"),
    ("/", "filter, e.g.  mti=0200,0210 stan=000123 tid=12345678 rc=05 role=host dir=in errors"),
    ("e", "errors only: undecodable frames and responses other than 00"),
    ("escape", "clear the filter"),
    ("m", "jump to the other half of the pair (request ↔ response)"),
    ("tab  shift+tab", "move between the list, the field tree and the hex pane"),
    ("↑ ↓ in the field tree", "highlight a field; its bytes light up in the hex pane"),
    ("x", "export the visible (filtered) messages: NAME.jsonl or NAME.pcap"),
    ("c", "show / hide the return-case panel"),
    ("?", "this help"),
    ("q  ctrl+c", "quit"),
)

NOTES = (
    "Card data (PAN, track 2/3, PIN block, keys, ICC card tags) is masked on screen, in the hex pane "
    "(stand-in bytes of the same length) and in exports, unless possim was started with --unmask. "
    "Rows in red: a frame that did not decode, or a response code other than 00. "
    "'dropped' counts messages the screen lost because it fell behind; 'evicted' those pushed out "
    "of the bounded buffer."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 100; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    """

    def compose(self) -> ComposeResult:
        table = Table(show_header=False, box=None, padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, what in KEYS:
            table.add_row(key, what)
        with Vertical():
            yield Label(Text("possim tui — keys", style="bold"))
            yield Static(table)
            yield Static(Text(NOTES, style="dim"))

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


class ExportScreen(ModalScreen[str | None]):
    """Asks for a file name; the extension picks the format."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen > Vertical { width: 90; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    """

    def __init__(self, default_path: str, count: int, masked: bool) -> None:
        super().__init__()
        self.default_path = default_path
        self.count = count
        self.masked = masked

    def compose(self) -> ComposeResult:
        secrets = "card data masked" if self.masked else "UNMASKED: real card data inside"
        with Vertical():
            yield Label(f"Export {self.count:,} visible messages ({secrets}). File name (.jsonl or .pcap):")
            yield Input(value=self.default_path, id="export-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
