from __future__ import annotations

from possim.terminal.messages import Card

from .conftest import TRACK2, run
from .scripted_host import ScriptedHost


def test_sign_in_and_purchase(open_terminal) -> None:
    async def go():
        host = ScriptedHost()
        url = await host.start()
        term = open_terminal(url)
        r1 = await term.sign_in()
        r2 = await term.purchase(1234, Card.from_track2(TRACK2), "123456")
        await term.close()
        await host.close()
        return r1, r2, host
    r1, r2, host = run(go())
    print(r1, r2)
    print(r2.receipt_text)
    assert r1.approved and r2.approved
