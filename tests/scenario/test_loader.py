"""The loader refuses what it cannot run, naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from possim.scenario.model import find_scenario_files, is_scenario_file, load_scenarios
from possim.scenario.yamlsource import ScenarioError

from .conftest import write

GOOD = """
scenario: minimal
steps:
  - sign_in:
    expect: {code: "00"}
"""


def error_of(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenarios(path)
    return str(info.value)


def test_minimal_scenario_loads_with_lines(tmp_path: Path) -> None:
    [s] = load_scenarios(write(tmp_path / "a.yaml", GOOD))
    assert s.name == "minimal" and s.line == 1
    [step] = s.steps
    assert (step.action, step.line) == ("sign_in", 3)
    assert step.where == f"{tmp_path / 'a.yaml'}:3"
    [exp] = step.expect
    assert exp.path == ("code",) and exp.line == 4


def test_misspelt_step_key_names_file_line_and_suggests(tmp_path: Path) -> None:
    path = write(tmp_path / "a.yaml", """
        scenario: typo
        steps:
          - sign_in:
          - purchase: {amount: 100, card: x}
            expct: {code: "00"}
        """)
    message = error_of(path)
    assert message.startswith(f"{path}:5: unknown key 'expct' in step 'purchase'")
    assert "did you mean 'expect'" in message


@pytest.mark.parametrize("body, line, needle", [
    ("  - purchas: {amount: 1}\n", 3, "unknown key 'purchas' in step (did you mean 'purchase'?)"),
    ("  - purchase: {amount: 1, card: x, amout: 2}\n", 3, "unknown argument 'amout' for purchase"),
    ("  - purchase: {card: x}\n", 3, "purchase needs amount"),
    ("  - sign_in:\n    expect: {code: {regx: 1}}\n", 4, "unknown matcher 'regx'"),
    ("  - sign_in:\n    expect: {code: {regex: '('}}\n", 4, "regex '('"),
    ("  - sign_in:\n    expect: {cod: '00'}\n", 4, "step 'sign_in' has no outcome 'cod'"),
    ("  - sign_in:\n    save: {x: nothing.here}\n", 4, "save x: step 'sign_in' has no outcome 'nothing'"),
    ("  - sign_in:\n    purchase: {amount: 1, card: x}\n", 3, "a step has one action, got sign_in, purchase"),
    ("  - review:\n    expect: {state: [a, b]}\n", 4, "a list is not an expected value"),
    ("  - sign_in:\n  - sign_in: {x: 1}\n", 4, "unknown argument 'x' for sign_in"),
])
def test_step_errors(tmp_path: Path, body: str, line: int, needle: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("scenario: bad\nsteps:\n" + body, encoding="utf-8")
    message = error_of(path)
    assert message.startswith(f"{path}:{line}: "), message
    assert needle in message


def test_top_level_and_setup_keys_are_checked(tmp_path: Path) -> None:
    path = write(tmp_path / "a.yaml", """
        scenario: x
        stepz: []
        """)
    assert error_of(path).startswith(f"{path}:2: unknown key 'stepz' in a scenario (did you mean 'steps'?)")
    path = write(tmp_path / "b.yaml", """
        scenario: x
        setup:
          cards:
            - {name: a, pan: "6222021234567890123"}
            - {name: b, pan: "6222021234567890123", balance: 5}
        steps: [{sign_in: }]
        """)
    assert error_of(path).startswith(f"{path}:5: unknown key 'balance' in setup.cards[1]")


def test_yaml_syntax_error_and_duplicate_key(tmp_path: Path) -> None:
    path = write(tmp_path / "a.yaml", "scenario: x\nsteps:\n  - sign_in: {\n")
    assert error_of(path).startswith(f"{path}:4: not valid YAML")
    path = write(tmp_path / "b.yaml", "scenario: x\nscenario: y\nsteps: [{sign_in: }]\n")
    assert error_of(path) == f"{path}:2: key 'scenario' appears twice"


def test_not_a_scenario_and_empty_steps(tmp_path: Path) -> None:
    path = write(tmp_path / "a.yaml", "steps: [{sign_in: }]\n")
    assert "not a scenario file (no top-level 'scenario:' name)" in error_of(path)
    path = write(tmp_path / "b.yaml", "scenario: x\nsteps: []\n")
    assert error_of(path) == f"{path}:2: steps: the list is empty"


def test_include_inlines_steps_with_their_own_lines(tmp_path: Path) -> None:
    write(tmp_path / "shared" / "in.yaml", """
        # shared
        steps:
          - sign_in:
          - echo:
        """)
    [s] = load_scenarios(write(tmp_path / "a.yaml", """
        scenario: x
        steps:
          - include: shared/in.yaml
          - settle:
        """))
    assert [st.action for st in s.steps] == ["sign_in", "echo", "settle"]
    assert s.steps[1].source.endswith("shared/in.yaml") and s.steps[1].line == 4
    assert s.steps[1].included_from[0].endswith("a.yaml:3")
    assert s.steps[2].included_from == ()


def test_include_errors(tmp_path: Path) -> None:
    missing = write(tmp_path / "a.yaml", "scenario: x\nsteps:\n  - include: nope.yaml\n")
    assert error_of(missing).startswith(f"{missing}:3: include nope.yaml: no such file")
    write(tmp_path / "loop.yaml", "steps:\n  - include: loop.yaml\n")
    looping = write(tmp_path / "b.yaml", "scenario: x\nsteps:\n  - include: loop.yaml\n")
    assert "includes itself" in error_of(looping)
    scenario_include = write(tmp_path / "c.yaml", "scenario: y\nsteps:\n  - include: b.yaml\n")
    assert "that file is a scenario" in error_of(scenario_include)
    write(tmp_path / "typo.yaml", "steps:\n  - sign_in:\n    expect: {cod: '00'}\n")
    typo = write(tmp_path / "d.yaml", "scenario: x\nsteps:\n  - include: typo.yaml\n")
    assert error_of(typo).startswith(f"{tmp_path / 'typo.yaml'}:3: step 'sign_in' has no outcome 'cod'")


def test_setup_include_is_overlaid_by_local_keys(tmp_path: Path) -> None:
    write(tmp_path / "world.yaml", """
        setup:
          clock: 2025-01-01T10:00:00+08:00
          cards: [{name: a, pan: "6222021234567890123"}]
        """)
    [s] = load_scenarios(write(tmp_path / "a.yaml", """
        scenario: x
        setup:
          include: world.yaml
          clock: 2025-06-01T10:00:00+08:00
        steps: [{sign_in: }]
        """))
    assert str(s.setup["clock"]).startswith("2025-06-01") and s.setup["cards"][0]["name"] == "a"


def test_parameters_expand_one_scenario_per_set(tmp_path: Path) -> None:
    scenarios = load_scenarios(write(tmp_path / "a.yaml", """
        scenario: sale of ${param.amount}
        parameters:
          - {amount: 100, code: "00"}
          - {id: big, amount: 999999, code: "61"}
        steps:
          - purchase: {amount: "${param.amount}", card: c}
            expect: {code: "${param.code}"}
        """))
    assert [s.item_name for s in scenarios] == ["sale of 100[amount=100,code=00]", "sale of 999999[big]"]
    assert scenarios[1].steps[0].args["amount"] == 999999  # a whole reference keeps the number
    assert scenarios[1].steps[0].expect[0].matcher.check("61", lambda: None).ok
    assert not scenarios[0].steps[0].expect[0].matcher.check("61", lambda: None).ok


def test_parameter_errors(tmp_path: Path) -> None:
    unknown = write(tmp_path / "a.yaml", """
        scenario: x
        parameters: [{amount: 1}]
        steps:
          - purchase: {amount: "${param.amonut}", card: c}
        """)
    assert "${param.amonut}: no 'amonut' in param (known: amount)" in error_of(unknown)
    repeated = write(tmp_path / "b.yaml", "scenario: x\nparameters: [{id: a}, {id: a}]\nsteps: [{sign_in: }]\n")
    assert error_of(repeated).startswith(f"{repeated}:2: parameters[1]: id 'a' repeats")


def test_finding_scenario_files(tmp_path: Path) -> None:
    write(tmp_path / "s" / "one.yaml", GOOD)
    write(tmp_path / "s" / "shared" / "steps.yaml", "steps: [{sign_in: }]\n")
    write(tmp_path / "s" / "sub" / "two.yml", GOOD)
    write(tmp_path / "s" / "notes.txt", GOOD)
    found = find_scenario_files(tmp_path / "s")
    assert [p.name for p in found] == ["one.yaml", "two.yml"]
    assert not is_scenario_file(tmp_path / "s" / "shared" / "steps.yaml")
    with pytest.raises(ScenarioError, match="no such file"):
        find_scenario_files(tmp_path / "missing")
