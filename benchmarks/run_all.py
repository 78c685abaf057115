"""Run every benchmark side by side and rewrite docs/benchmarks.md with the ratios, the machine and the command.

    .venv/bin/python benchmarks/run_all.py [--quick] [--only NAME ...] [--output FILE] [--json FILE]

Each benchmark module offers ``run() -> dict`` (benchmarks/host.py is called through its per-row
``run(requests, connections, workdir, batch_no)``). A benchmark that is missing or fails is skipped, and the
page says why. Every figure is a ratio against a peer measured in the same run on the same machine.
``--quick`` uses small sizes to check the plumbing; its numbers are not worth publishing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import inspect
import json
import os
import platform
import shlex
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

PACKAGES = ("construct", "pyiso8583", "pyserial", "textual", "locust", "PyYAML", "cryptography")


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def markdown(self) -> str:
        head = "| " + " | ".join(self.columns) + " |"
        align = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.columns))) + "|"
        return "\n".join([head, align, *("| " + " | ".join(r) + " |" for r in self.rows)])


@dataclass
class Benchmark:
    name: str
    title: str
    measure: Callable[[bool], dict[str, Any]]
    tabulate: Callable[[dict[str, Any]], Table]
    notes: str


def _num(value: float) -> str:
    return f"{value:,.0f}"


def _ratio(value: float, suffix: str = "") -> str:
    return f"{value:.2f}{suffix}"


# --- codec -------------------------------------------------------------------------------

def _codec(quick: bool) -> dict[str, Any]:
    codec = importlib.import_module("codec")
    if quick:
        rates = codec.codec_rates(2_000)
        rates.update(codec.bulk_rates(2_000))
        return {"rates": rates}
    return codec.run()


def _codec_table(result: dict[str, Any]) -> Table:
    r = result["rates"]
    table = Table(["operation", "possim (msg/s)", "pyiso8583 (msg/s)", "possim / pyiso8583"])
    for label, a, b in [("decode", "possim_decode", "pyiso8583_decode"),
                        ("encode", "possim_encode", "pyiso8583_encode"),
                        ("bulk: `possim decode --json -` vs a pyiso8583 script, lines/s with process start",
                         "possim_bulk", "pyiso8583_bulk")]:
        table.rows.append([label, _num(r[a]), _num(r[b]), _ratio(r[a] / r[b], "x")])
    return table


CODEC_NOTES = """\
The same four ISO 8583:1987 ASCII messages (0200, 0210, 0800 with a secondary bitmap, 0400 with field 90),
checked byte-identical between the two libraries before timing; best of 5 runs of 20,000 messages. The bulk
row pipes 20,000 hex lines through each tool as a process.

Goal for decode and encode: at least 1.5x pyiso8583. How: each field's parse/build is generated source with
its constants folded in; the fields of one bitmap form a `Layout` construct whose compiled form is one
straight-line function per direction (slices at an offset, neighbouring fixed fields read as one run, one
join), cached per bitmap (docs/dialects.md).

The bulk path does more per line than the peer script: it also unframes, checks and masks (PAN, track data,
PIN block, EMV tags) and names the transaction, and its process start (imports of construct, PyYAML, the
dialect file) is a large share of a one-second run. On a busy machine this row moves most between runs."""


# --- links --------------------------------------------------------------------------------

def _link(quick: bool) -> dict[str, Any]:
    link = importlib.import_module("link")
    return link.run(frames=500, repeat=1) if quick else link.run()


def _link_table(result: dict[str, Any]) -> Table:
    r, clients = result["results"], result["clients"]
    table = Table(["case", "baseline (frames/s)", "possim (frames/s)", "possim / baseline"])
    for label, base, ours in [
        ("pty: raw pyserial write/read vs possim `FramedConnection`", "pty_raw_pyserial", "pty_possim_len2"),
        ("TCP, 1 connection: bare asyncio length-prefixed echo vs possim", "tcp_bare_asyncio_1",
         "tcp_possim_len2_1"),
        (f"TCP, {clients} connections: bare asyncio vs possim", f"tcp_bare_asyncio_{clients}",
         f"tcp_possim_len2_{clients}"),
    ]:
        table.rows.append([label, _num(r[base]), _num(r[ours]), _ratio(r[ours] / r[base])])
    return table


LINK_NOTES = """\
Request/response round trips with a 200-byte payload and `len2` framing, best of 3 runs of 5,000.

The cost is the framed connection's reader task and streaming framer (one extra task hop per frame), which
the bare `readexactly` loop does not have."""


# --- host ---------------------------------------------------------------------------------

def _host(quick: bool) -> dict[str, Any]:
    host = importlib.import_module("host")
    requests, connections = (400, (1, 8)) if quick else (3000, (1, 8, 32))
    # host.py's run() is one row; pass what its signature asks for, by name, so a new optional knob
    # there (rounds, sync ...) does not break this page.
    params = inspect.signature(host.run).parameters
    rows = []
    with tempfile.TemporaryDirectory(dir=Path.cwd(), prefix="bench-host-") as tmp:
        n = 0
        for sync in ("full", "normal"):
            for c in connections:
                n += 1
                given = {"requests": requests, "rounds": 1 if quick else 3, "sync": sync, "connections": c,
                         "workdir": Path(tmp), "batch_no": n}
                row = host.run(**{k: v for k, v in given.items() if k in params})
                rows.append({**row, "sync": sync})
    return {"requests": requests, "rows": rows}


def _host_table(result: dict[str, Any]) -> Table:
    table = Table(["sync", "connections", "host rt/s", "p50 ms", "p99 ms", "host cpu us", "echo rt/s", "p50 ms",
                   "p99 ms", "echo cpu us", "host / echo", "floor / echo"])
    for r in result["rows"]:
        table.rows.append([r.get("sync", "full").upper(), str(r["connections"]), _num(r["host_rate"]),
                           f"{r['host_p50']:.2f}", f"{r['host_p99']:.2f}", f"{r['host_cpu']:.0f}",
                           _num(r["echo_rate"]), f"{r['echo_p50']:.2f}", f"{r['echo_p99']:.2f}",
                           f"{r['echo_cpu']:.0f}", _ratio(r["ratio"]),
                           _ratio(r["floor_ratio"]) if "floor_ratio" in r else "-"])
    return table


HOST_NOTES = """\
Purchase round trips per second through `possim host` (cup-ecb MAC checked, ledger committed before each
answer, WAL with `synchronous=FULL`, the default, then `NORMAL`, `--sync normal`: survives a `kill -9`,
not a power cut), beside a bare asyncio echo server answering frames of the same size, each as its own
process, driven by the same client (C connections, each waiting for its answer). "cpu us" is the server
process's own CPU time per round trip. "floor" is the echo answered by possim's own callback transport (the
one the host serves TCP on): floor / echo near 1 says the transport costs what bare asyncio costs, so the
rest of the gap is the host's work. Goal: half the echo rate; docs/host.md explains why it is not reached
(the echo's whole cost per message is under 25 us of CPU, less than the host's SQLite commit alone)."""


# --- TUI ----------------------------------------------------------------------------------

def _tui(quick: bool) -> dict[str, Any]:
    tui = importlib.import_module("tui")
    return tui.run(seconds=1.0, rates=(1000,)) if quick else tui.run()


def _tui_table(result: dict[str, Any]) -> Table:
    table = Table(["offered events/s", "published", "absorbed", "dropped", "max backlog", "absorbed events/s",
                   "absorbed / offered"])
    for r in result["rows"]:
        offered = r["offered_per_s"]
        share = _ratio(r["absorbed"] / r["published"]) if r["published"] else "-"
        table.rows.append([_num(offered) if offered else "as fast as possible", _num(r["published"]),
                           _num(r["absorbed"]), _num(r["dropped"]), _num(r["max_backlog"]),
                           _num(r["absorbed_per_s"]), share])
    return table


TUI_NOTES = """\
Real cup-pos 0200/0210 traffic events published on a `TrafficBus` at a fixed rate for a few seconds, taken
by the Textual app running headless (`run_test`, 160x45) through its bus reader in 50 ms batches, following
the newest row with the stats bar and detail panes live. Keeping up means nothing dropped and a backlog that
stays around one batch. The last row publishes as fast as possible into a large subscription and gives the
drain rate. Decoding happens in the publisher (as `LinkTap` does), so this measures the screen, not the
codec. The peer here is the offered rate itself: the ratio is what share of it reached the screen."""


# --- scenarios ------------------------------------------------------------------------------

def _scenarios(quick: bool) -> dict[str, Any]:
    if not (HERE / "scenarios.py").exists():
        raise FileNotFoundError("benchmarks/scenarios.py is not written yet")
    scenarios = importlib.import_module("scenarios")
    return scenarios.run(quick=quick)


def _scenarios_table(result: dict[str, Any]) -> Table:
    table = Table(["case", "scenario runner (scenarios/s)", "hand-written script (runs/s)",
                   "runner / script"])
    for r in result["rows"]:
        table.rows.append([r["case"], f"{r['runner_rate']:.1f}", f"{r['script_rate']:.1f}",
                           _ratio(r["runner_rate"] / r["script_rate"])])
    return table


SCENARIO_NOTES = """\
Scenario throughput: the same steps run by the scenario runner in-process (loading, matching, reporting)
and by a hand-written Python script through the public APIs."""


BENCHMARKS = [
    Benchmark("codec", "Codec: possim vs pyiso8583 (`benchmarks/codec.py`)", _codec, _codec_table,
              CODEC_NOTES),
    Benchmark("link", "Links: framing overhead vs raw pyserial and bare asyncio (`benchmarks/link.py`)", _link,
              _link_table, LINK_NOTES),
    Benchmark("host", "Host: `possim host` vs a bare echo server (`benchmarks/host.py`)", _host, _host_table,
              HOST_NOTES),
    Benchmark("tui", "TUI: traffic events absorbed (`benchmarks/tui.py`)", _tui, _tui_table, TUI_NOTES),
    Benchmark("scenarios", "Scenarios: runner vs a hand-written script (`benchmarks/scenarios.py`)", _scenarios,
              _scenarios_table, SCENARIO_NOTES),
]


# --- the page -----------------------------------------------------------------------------

def machine() -> dict[str, str]:
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    try:
        load = "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    except OSError:
        load = "load average unknown"
    return {"cores": str(os.cpu_count() or "?"), "memory": memory, "load": load,
            "python": platform.python_version(), "system": f"{platform.system()} {platform.machine()}",
            "packages": ", ".join(versions)}


def _busy() -> bool:
    try:
        return os.getloadavg()[0] > (os.cpu_count() or 1)
    except OSError:
        return False


def render(results: dict[str, dict[str, Any]], skipped: dict[str, str], command: str, when: dt.datetime,
           quick: bool) -> str:
    m = machine()
    out = [
        "# Benchmarks",
        "",
        "Every figure is a ratio against a peer measured side by side in the same run on the same machine, so",
        "the ratio means more than the absolute numbers. This page is written by `benchmarks/run_all.py`;",
        "run it again to refresh every table at once.",
        "",
        f"- Machine: {m['cores']} cores, {m['memory']}, {m['system']}, Python {m['python']}",
        f"- Packages: {m['packages']}",
        f"- Command: `{command}`",
        f"- Date: {when:%Y-%m-%d %H:%M} UTC" + (" (--quick: small sizes, numbers not representative)"
                                                 if quick else ""),
        "",
        f"- Busy: {m['load']} when the page was written" + (
            " (above the core count: other work was running, so rates are low and ratios noisy)"
            if _busy() else ""),
        "",
        "Other work may run on the machine at the same time; absolute rates then vary between runs, ratios less.",
    ]
    for bench in BENCHMARKS:
        out += ["", f"## {bench.title}", ""]
        if bench.name in results:
            out += [bench.tabulate(results[bench.name]).markdown(), "", bench.notes]
        else:
            out += [f"Not measured in this run: {skipped.get(bench.name, 'not selected')}."]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: check the plumbing only")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHMARKS], metavar="NAME",
                        help=f"run only these ({', '.join(b.name for b in BENCHMARKS)})")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"),
                        help="the page to rewrite (default docs/benchmarks.md)")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    args = parser.parse_args(argv)
    command = " ".join(["python benchmarks/run_all.py", *map(shlex.quote, argv if argv is not None
                                                               else sys.argv[1:])])
    results: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for bench in BENCHMARKS:
        if args.only and bench.name not in args.only:
            continue
        print(f"{bench.name} ...", file=sys.stderr, flush=True)
        try:
            results[bench.name] = bench.measure(args.quick)
            bench.tabulate(results[bench.name])  # a result the table cannot show counts as a failure
        except Exception as exc:  # a benchmark that fails is reported, the others still run
            results.pop(bench.name, None)
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
            skipped[bench.name] = reason
            print(f"{bench.name} skipped: {reason}", file=sys.stderr)
            if not isinstance(exc, (FileNotFoundError, ImportError)):
                traceback.print_exc()
    page = render(results, skipped, command, dt.datetime.now(dt.timezone.utc), args.quick)
    Path(args.output).write_text(page, encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "skipped": skipped, "machine": machine()},
                                              indent=1, default=str), encoding="utf-8")
    print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
