"""`possim terminal` as a user runs it: one function per call, the Result and the slip printed, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import run
from .hosting import DEBIT_CARD, DEBIT_PIN, DEBIT_TRACK2, real_host  # noqa: F401
from .processes import run_terminal

LOST_CARD = "6222020000000000011"


def test_sale_prints_the_result_and_the_slip(tmp_path: Path) -> None:
    db = tmp_path / "terminal.db"

    async def scenario() -> None:
        async with real_host(tmp_path) as host:
            url = host.urls[0]
            code, out, err = await run_terminal(url, db, "sign-in")
            assert code == 0 and out.startswith("sign_in: 00 Approved"), err
            code, out, err = await run_terminal(url, db, "sale", "--amount", "12.34", "--card-track2", DEBIT_TRACK2,
                                                "--pin", DEBIT_PIN)
            assert code == 0, err
            first = out.splitlines()[0]
            assert first.startswith("purchase: 00 Approved amount 12.34 card 622202*********0123 voucher 000002")
            assert "POS签购单" in out and "RMB 12.34" in out
            assert DEBIT_CARD not in out and DEBIT_TRACK2 not in out
            code, out, err = await run_terminal(url, db, "--json", "sale", "--amount", "1", "--card-pan", LOST_CARD,
                                                "--card-expiry", "3012")
            assert code == 1
            declined = json.loads(out)
            assert declined["code"] == "41" and declined["message"] == "Lost card" and not declined["local"]
            code, out, err = await run_terminal(url, db, "--json", "records")
            assert code == 0 and [r["status"] for r in json.loads(out)["data"]["records"]] == ["declined", "approved"]
    run(scenario())


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    async def scenario() -> None:
        code, out, err = await run_terminal("tcp://127.0.0.1:1", tmp_path / "t.db", "sale", "--amount", "1.234",
                                            "--card-track2", DEBIT_TRACK2)
        assert code == 2 and err.strip() == ("possim: --amount: expected a positive amount with at most "
                                             "2 decimals, got '1.234'")
        code, out, err = await run_terminal("tcp://127.0.0.1:1", tmp_path / "t.db", "sale", "--amount", "1")
        assert code == 2 and "a card is needed" in err and "Traceback" not in err
        code, out, err = await run_terminal("tcp://127.0.0.1:1", tmp_path / "t.db")
        assert code == 2 and "nothing to do" in err
    run(scenario())


def test_printer_url_receives_the_slip_as_escpos(tmp_path: Path) -> None:
    """`--printer tcp://...`: the sale's slip goes to a (real, loopback) raw-port printer, GB18030 and cut."""
    import asyncio

    db = tmp_path / "terminal.db"
    received: list[bytes] = []

    async def printer_port(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read())
        writer.close()
        await writer.wait_closed()

    async def scenario() -> None:
        printer = await asyncio.start_server(printer_port, "127.0.0.1", 0)
        port = printer.sockets[0].getsockname()[1]
        try:
            async with real_host(tmp_path) as host:
                url = host.urls[0]
                code, out, err = await run_terminal(url, db, "sign-in")
                assert code == 0, err
                code, out, err = await run_terminal(url, db, "--printer", f"tcp://127.0.0.1:{port}", "sale",
                                                    "--amount", "12.34", "--card-track2", DEBIT_TRACK2,
                                                    "--pin", DEBIT_PIN)
                assert code == 0, err
                for _ in range(100):  # bounded: the job arrives once the connection closes
                    if received:
                        break
                    await asyncio.sleep(0.05)
        finally:
            printer.close()
            await printer.wait_closed()
        job = b"".join(received)
        assert job.startswith(b"\x1b@") and job.endswith(b"\x1dV\x00")
        assert "消费/SALE".encode("gb18030") in job and b"RMB 12.34" in job
        assert DEBIT_CARD.encode() not in job
    run(scenario())
