"""Failure modes against a scripted responder on real loopback TCP: silence, strangers' answers, bad keys."""

from __future__ import annotations

from possim.terminal.messages import Card

from .conftest import TRACK2, run
from .scripted_host import SILENCE, ScriptedHost

CARD = Card.from_track2(TRACK2)


def test_silence_stores_a_reversal_that_goes_before_the_next_sale(open_terminal) -> None:
    async def scenario() -> None:
        silent = {"on": True}
        host = ScriptedHost(script=lambda m: SILENCE if m.mti == "0200" and silent["on"] else None)
        term = open_terminal(await host.start(), response_timeout=0.3)
        assert (await term.sign_in()).approved
        first = await term.purchase(1000, CARD, "123456")
        assert first.code == "98" and first.local and "reversal stored" in first.detail
        silent["on"] = False
        second = await term.purchase(2000, CARD, "123456")
        assert second.approved
        mtis = [(m.mti, m["11"]) for m in host.requests[-2:]]
        assert mtis == [("0400", first.stan), ("0200", second.stan)]
        assert host.requests[-2]["39"] == "98"
        await term.close()
        await host.close()
    run(scenario())


def test_an_unanswered_reversal_blocks_new_transactions(open_terminal) -> None:
    async def scenario() -> None:
        host = ScriptedHost(script=lambda m: SILENCE if m.mti in ("0200", "0400") else None)
        term = open_terminal(await host.start(), response_timeout=0.3)
        await term.sign_in()
        await term.purchase(1000, CARD, None)
        blocked = await term.purchase(2000, CARD, None)
        assert blocked.code == "98" and blocked.local and "not yet acknowledged" in blocked.detail
        assert [m.mti for m in host.requests].count("0200") == 1  # the second sale never went out
        assert len(term.journal.reversals()) == 1
        await term.close()
        await host.close()
    run(scenario())


def test_an_answer_for_another_stan_is_a_bad_response(open_terminal) -> None:
    async def scenario() -> None:
        host = ScriptedHost(script=lambda m: {"11": "999999"} if m.mti == "0200" else None)
        term = open_terminal(await host.start())
        await term.sign_in()
        sale = await term.purchase(1000, CARD, "123456")
        assert sale.code == "96" and sale.local and not sale.approved
        assert [e.reversal_reason for e in term.journal.reversals()] == ["96"]
        await term.close()
        await host.close()
    run(scenario())


def test_sign_in_with_a_bad_check_value_installs_nothing(open_terminal) -> None:
    async def scenario() -> None:
        def corrupt(msg):  # type: ignore[no-untyped-def]
            if msg.mti != "0800":
                return None
            return {"62": "00" * 40}
        host = ScriptedHost(script=corrupt)
        term = open_terminal(await host.start())
        result = await term.sign_in()
        assert result.code == "96" and result.local and "check value" in result.detail
        assert not term.state.signed_in
        assert (await term.purchase(100, CARD, None)).code == "22"
        await term.close()
        await host.close()
    run(scenario())


def test_no_link_means_nothing_to_reverse(open_terminal, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        host = ScriptedHost()
        url = await host.start()
        term = open_terminal(url)
        await term.sign_in()
        await host.close()
        term.link.url = "tcp://127.0.0.1:1"
        await term.link.close()
        sale = await term.purchase(100, CARD, None)
        assert sale.code == "91" and sale.local
        assert term.journal.reversals() == [] and term.journal.records() == []
        await term.close()
    run(scenario())
