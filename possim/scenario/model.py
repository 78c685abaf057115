"""Scenario files: load, check every key against its line, inline includes, expand parameters.

The file format is documented key by key in docs/scenarios.md. The loader's
job is to turn a file into :class:`Scenario` objects that cannot surprise the
runner: every step has one known action with known arguments, every
expectation is a compiled matcher with its line, and anything wrong is
reported as ``file:line: what`` before a single message is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from possim.scenario.catalogue import RAW, STEP_MODIFIERS, STEPS, StepKind
from possim.scenario.context import substitute
from possim.scenario.matchers import MAPPING_FORMS, Matcher, parse_matcher
from possim.scenario.yamlsource import LineDict, LineList, ScenarioError, load_file

TOP_KEYS = ("scenario", "description", "tags", "parameters", "expect_failure", "setup", "steps")
SETUP_KEYS = ("include", "clock", "host", "merchants", "terminals", "cards")
HOST_KEYS = ("acquirer", "defaults", "default_card", "fee_schedules", "policy")
MERCHANT_KEYS = ("mid", "name", "deposit_fen", "deposit_refundable", "contract_start", "fee_schedule")
TERMINAL_HOST_KEYS = ("tid", "mid", "tmk", "mac_algorithm", "state", "deposit_paid")
TERMINAL_SIM_KEYS = ("merchant_name", "key_mode", "profile", "operator", "response_timeout", "header", "tpdu",
                     "balance_processing_code")
CARD_KEYS = ("name", "pan", "pin", "expiry", "balance_fen", "status", "limit_fen", "kind", "pin_required",
             "entry", "track2")
INCLUDE_KEYS = ("description", "steps")
# Outcomes that hold named parts (``data: {case_state: ...}``); every other outcome is one value.
NESTED_OUTCOMES = frozenset({"data", "request", "response", "case", "fields"})
MAX_INCLUDE_DEPTH = 8


def _close_match(word: str, known: tuple[str, ...] | frozenset[str]) -> str:
    import difflib

    near = difflib.get_close_matches(word, sorted(known), n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def check_keys(mapping: LineDict, known: tuple[str, ...] | frozenset[str], what: str) -> None:
    for key in mapping:
        if key not in known:
            raise ScenarioError(f"{mapping.where(key)}: unknown key {key!r} in {what}{_close_match(key, known)}; "
                                f"known: {', '.join(sorted(known))}")


def require_mapping(value: Any, where: str, what: str) -> LineDict:
    if not isinstance(value, LineDict):
        raise ScenarioError(f"{where}: {what}: expected a mapping, got {type(value).__name__}")
    return value


def require_list(value: Any, where: str, what: str) -> LineList:
    if not isinstance(value, LineList):
        raise ScenarioError(f"{where}: {what}: expected a list, got {type(value).__name__}")
    return value


# --- expectations --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Expectation:
    path: tuple[str, ...]      # e.g. ("response", "fields", "39") or ("receipt",)
    matcher: Matcher
    source: str
    line: int
    raw: Any = None            # the spec as written, re-read at run time when it holds ${save.*} references

    @property
    def shown(self) -> str:
        return ".".join(self.path)


def _is_matcher_form(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in MAPPING_FORMS


def compile_expect(spec: Any, kind: StepKind, where: str) -> tuple[Expectation, ...]:
    mapping = require_mapping(spec, where, "expect")
    out: list[Expectation] = []

    def walk(node: LineDict, path: tuple[str, ...]) -> None:
        for key, value in node.items():
            here = path + (key,)
            if not path and key not in kind.observes:
                raise ScenarioError(f"{node.where(key)}: step {kind.name!r} has no outcome {key!r} to expect"
                                    f"{_close_match(key, kind.observes)}; it offers: "
                                    f"{', '.join(sorted(kind.observes))}")
            if isinstance(value, LineDict) and not _is_matcher_form(value):
                if not path and key not in NESTED_OUTCOMES:
                    parse_matcher(value, node.where(key))  # a value, not a group: report the bad matcher
                walk(value, here)
            else:
                out.append(Expectation(here, parse_matcher(value, node.where(key)), node.source, node.line_of(key),
                                       value))

    walk(mapping, ())
    return tuple(out)


def split_path(text: str) -> tuple[str, ...]:
    """``response.fields.60.1`` -> ("response", "fields", "60.1"): a field path keeps its dot."""
    parts = str(text).split(".")
    if "fields" in parts:
        i = parts.index("fields")
        rest = ".".join(parts[i + 1:])
        return tuple(parts[:i + 1]) + ((rest,) if rest else ())
    return tuple(parts)


# --- steps and scenarios -------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    action: str
    args: Any                          # mapping of arguments (references resolved at run time)
    expect: tuple[Expectation, ...]
    save: tuple[tuple[str, tuple[str, ...]], ...]
    name: str | None
    terminal: str | None
    source: str
    line: int
    included_from: tuple[str, ...] = ()   # "file:line" of each include on the way here

    @property
    def kind(self) -> StepKind:
        return STEPS[self.action]

    @property
    def label(self) -> str:
        return self.name or self.action

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass
class Scenario:
    name: str
    source: str               # the file as shown to the user
    line: int
    path: Path
    setup: LineDict
    steps: list[Step]
    description: str = ""
    tags: tuple[str, ...] = ()
    expect_failure: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    param_id: str | None = None
    setup_line: int = 0       # the line of ``setup:`` in this file (its contents may come from an include)

    @property
    def item_name(self) -> str:
        return f"{self.name}[{self.param_id}]" if self.param_id else self.name


def _parse_step(raw: Any, where: str, source: str, line: int, chain: tuple[str, ...]) -> Step:
    step = require_mapping(raw, where, "step")
    actions = [k for k in step if k in STEPS]
    if len(actions) != 1:
        unknown = [k for k in step if k not in STEPS and k not in STEP_MODIFIERS]
        if unknown:
            known = tuple(STEPS) + tuple(STEP_MODIFIERS)
            raise ScenarioError(f"{step.where(unknown[0])}: unknown key {unknown[0]!r} in step"
                                f"{_close_match(unknown[0], known)}; steps: {', '.join(sorted(STEPS))}")
        if not actions:
            raise ScenarioError(f"{where}: a step needs one action, e.g. purchase: or send:")
        raise ScenarioError(f"{where}: a step has one action, got {', '.join(actions)}")
    action = actions[0]
    kind = STEPS[action]
    for key in step:
        if key != action and key not in STEP_MODIFIERS:
            raise ScenarioError(f"{step.where(key)}: unknown key {key!r} in step {action!r}"
                                f"{_close_match(key, STEP_MODIFIERS)}; allowed: {', '.join(sorted(STEP_MODIFIERS))}")
    args = step[action]
    if args is None:
        args = LineDict()
        args.source, args.line, args.key_lines = source, step.line_of(action), {}
    args = require_mapping(args, step.where(action), action)
    for key in args:
        if key not in kind.arguments:
            raise ScenarioError(f"{args.where(key)}: unknown argument {key!r} for {action}"
                                f"{_close_match(key, kind.arguments)}; arguments: "
                                f"{', '.join(sorted(kind.arguments)) or 'none'}")
    missing = sorted(kind.required - set(args))
    if missing:
        raise ScenarioError(f"{step.where(action)}: {action} needs {', '.join(missing)}")
    if kind.kind == RAW and "fields" in args:
        require_mapping(args["fields"], args.where("fields"), "fields")
    expect = compile_expect(step["expect"], kind, step.where("expect")) if "expect" in step else ()
    save: list[tuple[str, tuple[str, ...]]] = []
    if "save" in step:
        saves = require_mapping(step["save"], step.where("save"), "save")
        for name, path in saves.items():
            parts = split_path(str(path))
            if parts[0] not in kind.observes:
                raise ScenarioError(f"{saves.where(name)}: save {name}: step {action!r} has no outcome "
                                    f"{parts[0]!r}; it offers: {', '.join(sorted(kind.observes))}")
            save.append((name, parts))
    name = step.get("name")
    terminal = step.get("terminal")
    return Step(action=action, args=args, expect=expect, save=tuple(save),
                name=None if name is None else str(name), terminal=None if terminal is None else str(terminal),
                source=source, line=line, included_from=chain)


def _steps(items: LineList, base: Path, chain: tuple[str, ...], seen: tuple[Path, ...]) -> list[Step]:
    out: list[Step] = []
    for i, raw in enumerate(items):
        where = items.where(i)
        if isinstance(raw, LineDict) and "include" in raw:
            if len(raw) != 1:
                other = next(k for k in raw if k != "include")
                raise ScenarioError(f"{raw.where(other)}: an include step has only 'include:', got {other!r}")
            out.extend(_include(raw["include"], where, base, chain, seen))
            continue
        out.append(_parse_step(raw, where, items.source, items.line_of(i), chain))
    return out


def _include(target: Any, where: str, base: Path, chain: tuple[str, ...], seen: tuple[Path, ...]) -> list[Step]:
    if not isinstance(target, str) or not target.strip():
        raise ScenarioError(f"{where}: include: expected a file path relative to this file")
    path = (base / target).resolve()
    if path in seen:
        raise ScenarioError(f"{where}: include {target}: includes itself (via {' -> '.join(p.name for p in seen)})")
    if len(seen) > MAX_INCLUDE_DEPTH:
        raise ScenarioError(f"{where}: include {target}: more than {MAX_INCLUDE_DEPTH} levels deep")
    if not path.is_file():
        raise ScenarioError(f"{where}: include {target}: no such file ({path})")
    shown = _shown(path)
    data = require_mapping(load_file(path, shown), f"{shown}:1", "included file")
    if "scenario" in data:
        raise ScenarioError(f"{where}: include {target}: that file is a scenario; include a file with only "
                            "'steps:'")
    check_keys(data, INCLUDE_KEYS, "an included file")
    steps = require_list(data.get("steps"), data.where("steps"), "steps")
    return _steps(steps, path.parent, chain + (where,), seen + (path,))


def _shown(path: Path) -> str:
    """A path as the user knows it: relative to the working directory when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _check_setup(setup: LineDict) -> None:
    check_keys(setup, SETUP_KEYS, "setup")
    if "host" in setup:
        check_keys(require_mapping(setup["host"], setup.where("host"), "host"), HOST_KEYS, "setup.host")
    for what, keys, required in (("merchants", MERCHANT_KEYS, ("mid", "name")),
                                 ("terminals", TERMINAL_HOST_KEYS + TERMINAL_SIM_KEYS, ("tid", "tmk")),
                                 ("cards", CARD_KEYS, ("name", "pan"))):
        if what not in setup:
            continue
        items = require_list(setup[what], setup.where(what), what)
        for i, item in enumerate(items):
            entry = require_mapping(item, items.where(i), f"{what}[{i}]")
            check_keys(entry, keys, f"setup.{what}[{i}]")
            for key in required:
                if key not in entry:
                    raise ScenarioError(f"{entry.where()}: setup.{what}[{i}] needs {key!r}")


def _setup_with_include(setup: LineDict, base: Path) -> LineDict:
    """``setup: {include: shared/world.yaml, cards: [...]}``: the file's set-up, with local keys replacing its."""
    check_keys(setup, SETUP_KEYS, "setup")
    if "include" not in setup:
        return setup
    target = setup["include"]
    where = setup.where("include")
    if not isinstance(target, str) or not target.strip():
        raise ScenarioError(f"{where}: include: expected a file path relative to this file")
    path = (base / target).resolve()
    if not path.is_file():
        raise ScenarioError(f"{where}: include {target}: no such file ({path})")
    data = require_mapping(load_file(path, _shown(path)), f"{_shown(path)}:1", "included set-up file")
    check_keys(data, ("description", "setup"), "an included set-up file")
    shared = require_mapping(data.get("setup"), data.where("setup"), "setup")
    if "include" in shared:
        raise ScenarioError(f"{shared.where('include')}: an included set-up cannot include another")
    merged = LineDict()
    merged.source, merged.line, merged.key_lines = shared.source, shared.line, dict(shared.key_lines)
    for key, value in shared.items():
        merged[key] = value
    for key, value in setup.items():
        if key != "include":
            merged[key] = value
            merged.key_lines[key] = setup.line_of(key)
    return merged


def _param_sets(data: LineDict) -> list[tuple[str | None, dict[str, Any]]]:
    if "parameters" not in data:
        return [(None, {})]
    sets = require_list(data["parameters"], data.where("parameters"), "parameters")
    if not sets:
        raise ScenarioError(f"{data.where('parameters')}: parameters: the list is empty")
    out: list[tuple[str | None, dict[str, Any]]] = []
    ids: set[str] = set()
    for i, item in enumerate(sets):
        values = require_mapping(item, sets.where(i), f"parameters[{i}]")
        pid = str(values["id"]) if "id" in values else ",".join(f"{k}={v}" for k, v in values.items())
        if pid in ids:
            raise ScenarioError(f"{sets.where(i)}: parameters[{i}]: id {pid!r} repeats an earlier set")
        ids.add(pid)
        out.append((pid, dict(values)))
    return out


def load_scenarios(path: str | Path) -> list[Scenario]:
    """One :class:`Scenario` per parameter set of the file at ``path``."""
    path = Path(path)
    shown = _shown(path)
    data = load_file(path, shown)
    data = require_mapping(data, f"{shown}:1", "scenario file")
    if "scenario" not in data:
        raise ScenarioError(f"{shown}:{data.line}: not a scenario file (no top-level 'scenario:' name)")
    check_keys(data, TOP_KEYS, "a scenario")
    out: list[Scenario] = []
    for pid, params in _param_sets(data):
        resolved = substitute(data, {"param": params}, data.where(), only=frozenset({"param"}))
        name = str(resolved["scenario"]).strip()
        if not name:
            raise ScenarioError(f"{resolved.where('scenario')}: scenario: the name is empty")
        setup = resolved.get("setup")
        if setup is None:
            setup = LineDict()
            setup.source, setup.line, setup.key_lines = shown, 1, {}
        setup = _setup_with_include(require_mapping(setup, resolved.where("setup"), "setup"),
                                    path.resolve().parent)
        _check_setup(setup)
        steps = _steps(require_list(resolved.get("steps"), resolved.where("steps"), "steps"),
                       path.resolve().parent, (), (path.resolve(),))
        if not steps:
            raise ScenarioError(f"{resolved.where('steps')}: steps: the list is empty")
        tags = resolved.get("tags") or []
        failure = resolved.get("expect_failure")
        out.append(Scenario(
            name=name, source=shown, line=resolved.line_of("scenario"), path=path, setup=setup, steps=steps,
            description=str(resolved.get("description") or ""), tags=tuple(str(t) for t in tags),
            expect_failure=None if failure is None else str(failure), parameters=params, param_id=pid,
            setup_line=resolved.line_of("setup") if "setup" in resolved else resolved.line_of("scenario")))
    return out


def is_scenario_file(path: Path) -> bool:
    """A YAML file whose top level has a ``scenario:`` key (shared step files and configs have none)."""
    if path.suffix not in (".yaml", ".yml"):
        return False
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("scenario:"):
                    return True
    except (OSError, UnicodeDecodeError):
        return False
    return False


def find_scenario_files(target: str | Path) -> list[Path]:
    """A scenario file as given, or every scenario file below a directory, in a stable order."""
    target = Path(target)
    if target.is_dir():
        return sorted(p for p in target.rglob("*") if p.is_file() and is_scenario_file(p))
    if not target.exists():
        raise ScenarioError(f"{target}: no such file or directory")
    return [target]
