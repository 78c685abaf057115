"""The Textual app driven by keys through Pilot, on real CUP frames."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timezone
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from possim.traffic import TrafficBus, read_pcap
from possim.tui.app import TrafficApp
from possim.tui.screens import ExportScreen, HelpScreen
from possim.tui.sources import BusSource

from .frames import PAN, T0, publish_script, script_events

SIZE = (160, 45)


def make_app(**kwargs: object) -> TrafficApp:
    return TrafficApp(tz=timezone.utc, clock=lambda: T0 + 2, **kwargs)  # type: ignore[arg-type]


def drive(test: Callable[[TrafficApp, Pilot], Awaitable[None]], app: TrafficApp | None = None,
          feed: bool = True) -> None:
    async def main() -> None:
        the_app = app or make_app()
        async with the_app.run_test(size=SIZE) as pilot:
            if feed:
                the_app.feed(script_events())
                await pilot.pause()
            await test(the_app, pilot)
    asyncio.run(main())


def test_follow_selects_the_newest_message_and_fills_tree_and_hex() -> None:
    async def test(app: TrafficApp, pilot: Pilot) -> None:
        assert app.follow and app.message_list.selected == 16
        app.show_selected()
        assert app.field_tree.root.label.plain.startswith("#16")
        assert len(app.hex_view.data) == app.model.get(16).event.raw_len
        # secrets never reach the screen: the hex pane shows the stand-in bytes
        assert bytes.fromhex(PAN[:18]) not in app.hex_view.data
    drive(test)


def test_arrow_keys_move_selection_leave_follow_and_f_returns() -> None:
    async def test(app: TrafficApp, pilot: Pilot) -> None:
        await pilot.press("up", "up", "k")
        assert app.message_list.selected == 13 and not app.follow
        assert app.field_tree.root.label.plain.startswith("#13")
        app.feed(script_events())
        await pilot.pause()
        assert app.message_list.selected == 13  # not following: the selection stays put
        await pilot.press("f")
        assert app.follow and app.message_list.selected == 32
        await pilot.press("home")
        assert app.message_list.selected == 1 and not app.follow
        await pilot.press("end")
        assert app.follow and app.message_list.selected == 32
    drive(test)


def test_selecting_a_field_highlights_its_bytes() -> None:
    async def test(app: TrafficApp, pilot: Pilot) -> None:
        await pilot.press("up", "up", "up", "up", "up", "up", "up", "up", "up", "up", "up")  # row 5: a 0200
        assert app.message_list.selected == 5
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is app.field_tree
        await pilot.press("down", "down", "down", "down", "down")  # root, tpdu, header, mti, bitmap, 2
        await pilot.pause()  # let the tree's NodeHighlighted message reach the app
        node = app.field_tree.cursor_node
        assert node is not None and node.data is not None and node.data.key == "2"
        start, end = node.data.span
        assert app.hex_view.highlight == (start, end)
        assert app.hex_view.data[start] == 0x19  # the LL prefix of a 19-digit PAN
        await pilot.press("down")
        await pilot.pause()
        assert app.hex_view.highlight == app.field_tree.cursor_node.data.span != (start, end)
    drive(test)


def test_help_opens_on_question_mark_and_closes() -> None:
    async def test(app: TrafficApp, pilot: Pilot) -> None:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
    drive(test)


def test_filter_key_applies_refuses_and_clears() -> None:
    async def test(app: TrafficApp, pilot: Pilot) -> None:
        await pilot.press("slash")
        box = app.query_one("#filter", Input)
        assert box.has_focus
        await pilot.press(*"mti=0210", "enter")
        assert len(app.model) == 5 and all(r.mti == "0210" for r in app.model.visible())
        assert not box.has_class("open") and app.message_list.has_focus
        await pilot.press("slash", "ctrl+u", *"bogus", "enter")
        assert box.has_class("open") and len(app.model) == 5  # refused, the old filter stays
        await pilot.press("escape")  # closes the box
        await pilot.press("escape")  # clears the filter
        assert len(app.model) == 16 and not app.model.filter.active
    drive(test)


def test_errors_only_toggles() -> None:
    async def test(app: TrafficApp, pilot: Pilot) -> None:
        await pilot.press("e")
        assert [r.number for r in app.model.visible()] == [8, 12, 13]
        await pilot.press("e")
        assert len(app.model) == 16
    drive(test)


def test_pause_holds_traffic_and_resume_applies_it() -> None:
    async def test(app: TrafficApp, pilot: Pilot) -> None:
        await pilot.press("p")
        assert app.paused
        app.feed(script_events())
        await pilot.pause()
        assert len(app.model) == 16 and len(app.held) == 16
        await pilot.press("space")
        assert not app.paused and len(app.model) == 32 and not app.held
    drive(test)


def test_pair_key_jumps_between_request_and_response() -> None:
    async def test(app: TrafficApp, pilot: Pilot) -> None:
        await pilot.press("up", "up", "up", "up", "up", "up", "up", "up")  # row 8: the 51 decline
        assert app.message_list.selected == 8
        await pilot.press("m")
        assert app.message_list.selected == 7
        await pilot.press("m")
        assert app.message_list.selected == 8
    drive(test)


def _export(app: TrafficApp, pilot: Pilot, path: Path) -> Awaitable[None]:
    async def go() -> None:
        await pilot.press("x")
        assert isinstance(app.screen, ExportScreen)
        app.screen.query_one(Input).value = str(path)
        await pilot.press("enter")
        for _ in range(500):  # bounded: a loaded machine may take a moment to close the dialog
            if not isinstance(app.screen, ExportScreen):
                break
            await pilot.pause(0.01)
        await pilot.pause()
        await pilot.pause()
    return go()


def test_export_writes_the_visible_messages_masked(tmp_path: Path) -> None:
    async def test(app: TrafficApp, pilot: Pilot) -> None:
        await pilot.press("e")
        await _export(app, pilot, tmp_path / "errors.jsonl")
        lines = (tmp_path / "errors.jsonl").read_text().splitlines()
        assert [json.loads(line)["seq"] for line in lines] == [8, 12, 13]
        await pilot.press("e")
        await _export(app, pilot, tmp_path / "all.pcap")
        assert app.last_export == (tmp_path / "all.pcap", 16)
        payloads = b"".join(seg.payload for seg in read_pcap(tmp_path / "all.pcap"))
        assert len(list(read_pcap(tmp_path / "all.pcap"))) == 16
        assert bytes.fromhex(PAN[:18]) not in payloads
        assert PAN not in (tmp_path / "errors.jsonl").read_text()
    drive(test)


def test_export_to_a_bad_name_is_reported_not_raised(tmp_path: Path) -> None:
    async def test(app: TrafficApp, pilot: Pilot) -> None:
        await _export(app, pilot, tmp_path / "traffic.txt")
        assert app.last_export is None and not (tmp_path / "traffic.txt").exists()
    drive(test)


def test_cases_key_shows_return_path_messages_without_a_database() -> None:
    async def test(app: TrafficApp, pilot: Pilot) -> None:
        assert not app.cases_panel.display
        await pilot.press("c")
        assert app.cases_panel.display
        assert "no --cases-db" in str(app.cases_panel.border_title)
        rows = [app.cases_panel.get_row_at(i) for i in range(app.cases_panel.row_count)]
        assert ["1", "12345678", "applied"] == rows[-1][:3]
        await pilot.press("c")
        assert not app.cases_panel.display
    drive(test)


def test_live_bus_source_reaches_the_screen_in_batches() -> None:
    bus = TrafficBus()
    source = BusSource(bus, "test bus", interval=0.02)
    app = make_app(source=source)

    async def test(app: TrafficApp, pilot: Pilot) -> None:
        publish_script(bus)
        for _ in range(200):  # bounded wait for the reader thread
            if app.model.stats(T0).total == 16:
                break
            await pilot.pause(0.02)
        assert app.model.stats(T0).total == 16
        assert [r.event.seq for r in app.model.visible()] == list(range(1, 17))
    drive(test, app, feed=False)
    assert source.subscription is not None and source.subscription.closed
