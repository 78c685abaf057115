"""--demo end to end (real host and terminal on loopback, watched headless) and the CLI's refusals."""

from __future__ import annotations

import asyncio

import pytest

from possim.cli import main
from possim.tui.app import TrafficApp
from possim.tui.demo import DEBIT, DemoSource


def test_demo_shows_purchases_and_return_cases_with_pans_masked() -> None:
    source = DemoSource(pace=0.01)
    source.open()
    app = TrafficApp(source, cases_db=source.host_db, filter_text="role=host", cases_interval=0.2)

    async def main_() -> None:
        async with app.run_test(size=(160, 45)) as pilot:
            for _ in range(1500):  # bounded: until a settlement and a return case have passed
                rows = app.model.visible()
                if any(r.mti == "0510" for r in rows) and app.cases_panel.row_count:
                    break
                await pilot.pause(0.02)
            rows = app.model.visible()
            assert {"0200", "0210", "0800", "0810", "0510"} <= {r.mti for r in rows}
            assert {"00", "41", "55", "54"} <= {r.rc for r in rows}
            assert all(r.event.role == "host" for r in rows)
            sale = next(r for r in rows if r.mti == "0200" and r.name == "Purchase")
            assert app.model.partner(sale) is not None
            app.message_list.select_number(sale.number)
            app.show_selected()
            shown = " ".join(str(n.label) for n in app.field_tree.root.children)
            assert "622202*********0123" in shown and DEBIT.pan not in shown
            assert bytes.fromhex(DEBIT.pan[:18]) not in app.hex_view.data
            assert app.cases_panel.row_count >= 1
    try:
        asyncio.run(main_())
    finally:
        source.stop()


@pytest.mark.parametrize("argv, message", [
    (["tui", "--attach", "http://127.0.0.1:1"], "expected tcp://HOST:PORT"),
    (["tui", "--attach", "tcp://127.0.0.1:7001", "--filter", "colour=red"], "filter term 'colour=red'"),
    (["tui", "--tap", "tcp://127.0.0.1:0", "tcp://127.0.0.1:1", "--framing", "bogus"], "bogus"),
    (["tui", "--demo", "--buffer", "0"], "--buffer"),
])
def test_cli_refuses_bad_input_before_the_screen_opens(argv: list[str], message: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
