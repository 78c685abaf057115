"""Saved values and parameters: ${save.x} and ${param.x}."""

from __future__ import annotations

import pytest

from possim.scenario.context import references, substitute
from possim.scenario.yamlsource import ScenarioError, load_text


def test_whole_reference_keeps_type_and_inline_interpolates() -> None:
    spaces = {"save": {"amount": 1500, "rrn": "506200000002", "ok": True, "case": {"id": 7}}}
    assert substitute("${save.amount}", spaces, "w") == 1500
    assert substitute("ref ${save.rrn}/${save.amount}", spaces, "w") == "ref 506200000002/1500"
    assert substitute("${save.ok} and ${save.ok}", spaces, "w") == "true and true"
    assert substitute("${save.case.id}", spaces, "w") == 7
    data = load_text("a: [x, '${save.rrn}']\nb: {c: '${save.amount}'}\n", "t.yaml")
    out = substitute(data, spaces, "w")
    assert out == {"a": ["x", "506200000002"], "b": {"c": 1500}}
    assert out["b"].line == 2 and out.source == "t.yaml"  # lines survive substitution


def test_only_limits_what_is_replaced_now() -> None:
    spaces = {"param": {"n": 3}}
    assert substitute("${param.n} ${save.x}", spaces, "w", only=frozenset({"param"})) == "3 ${save.x}"
    assert references("${param.n} ${save.x}") == {("param", "n"), ("save", "x")}


def test_unknown_names_are_reported_with_what_is_known() -> None:
    with pytest.raises(ScenarioError, match=r"f:3: \$\{save.rnn\}: no 'rnn' in save \(known: amount, rrn\)"):
        substitute("${save.rnn}", {"save": {"rrn": "1", "amount": 2}}, "f:3")
    with pytest.raises(ScenarioError, match="unknown reference .*known prefixes: save"):
        substitute("${saved.rrn}", {"save": {}}, "f:3")
