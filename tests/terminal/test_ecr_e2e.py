"""A cash register drives `possim terminal --ecr` over a real pty pair; the terminal talks to the real host."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from possim.terminal.ecr import EcrClient, get_protocol
from possim.transport import FdTransport, FramedConnection, open_pty_pair

from .conftest import run
from .hosting import DEBIT_CARD, DEBIT_PIN, DEBIT_TRACK2, real_host
from .processes import start_terminal


def test_a_till_drives_a_sale_through_the_ecr_port(tmp_path: Path) -> None:
    master, slave, path = open_pty_pair()

    async def scenario() -> None:
        async with real_host(tmp_path) as host:
            proc = await start_terminal(host.urls[0], tmp_path / "terminal.db", "--ecr", path)
            assert proc.stdout is not None
            line = (await proc.stdout.readline()).decode()
            assert line.strip() == f"possim terminal ecr on {path}"
            protocol = get_protocol("ecr-possim")
            conn = FramedConnection(FdTransport(master, "till", on_close=lambda: None), "stx",
                                    ack_timeout=protocol.ack_timeout, max_retries=protocol.max_retries)
            till = EcrClient(conn, protocol)
            signed = await till.call("sign_in", timeout=30)
            assert signed.approved, signed.values
            sale = await till.call("sale", amount=2345, card_track2=DEBIT_TRACK2, pin=DEBIT_PIN, timeout=30)
            assert sale.approved, sale.values
            assert sale["amount"] == 2345 and sale["masked_pan"] == "622202*********0123"
            assert len(sale["rrn"]) == 12 and sale["voucher_no"] == "000002" and sale["local"] == "0"
            assert "消费/SALE" in sale["receipt_text"] and DEBIT_CARD not in sale["receipt_text"]
            query = await till.call("query", voucher_no=sale["voucher_no"], timeout=30)
            assert query.approved and query["rrn"] == sale["rrn"]
            reprint = await till.call("reprint", timeout=30)
            assert "REPRINT" in reprint["receipt_text"]
            void = await till.call("void", voucher_no=sale["voucher_no"], timeout=30)
            assert void.approved and void["amount"] == 2345
            missing_card = await till.call("sale", amount=100, timeout=30)
            assert missing_card.code == "E2" and "card" in missing_card["detail"]
            await conn.close()
            proc.send_signal(signal.SIGTERM)
            assert await proc.wait() == 0
    try:
        run(scenario())
    finally:
        os.close(master)
        os.close(slave)
