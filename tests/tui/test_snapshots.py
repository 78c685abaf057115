"""Snapshots of the main screens (pytest-textual-snapshot), with fixed events, times and zone.

Update after an intended change of the screen with ``pytest tests/tui --snapshot-update`` and look at
the SVGs under tests/tui/__snapshots__ before committing them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timezone

from textual.pilot import Pilot

from possim.tui.app import TrafficApp

from .frames import T0, script_events

SIZE = (160, 45)


def _app() -> TrafficApp:
    return TrafficApp(tz=timezone.utc, clock=lambda: T0 + 2)


def _fed(*keys: str) -> Callable[[Pilot], object]:
    async def run_before(pilot: Pilot) -> None:
        pilot.app.feed(script_events())  # type: ignore[attr-defined]
        await pilot.pause()
        if keys:
            await pilot.press(*keys)
        await pilot.pause()
    return run_before


def test_main_screen_following(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_fed())


def test_selected_purchase_with_pan_highlighted(snap_compare) -> None:  # type: ignore[no-untyped-def]
    keys = ["up"] * 11 + ["tab"] + ["down"] * 5
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_fed(*keys))


def test_errors_only_with_cases_panel(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_fed("e", "c"))


def test_help_screen(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_fed("question_mark"))
