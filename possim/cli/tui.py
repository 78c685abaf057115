"""``possim tui``: the live-traffic screen (Textual); everything it shows comes from possim.tui."""

from __future__ import annotations

import argparse

from possim.errors import PossimError, UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tui", help="watch live traffic, decoded field by field",
        description="Watch POS traffic live: a message list, the field tree and hex of the selected message, "
                    "counters, filters and export. Press ? inside for the keys.",
        epilog="examples: possim tui --demo | possim tui --attach tcp://127.0.0.1:7001 | "
               "possim tui --tap tcp://127.0.0.1:6000 tcp://127.0.0.1:5000")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--demo", action="store_true",
                      help="run an in-process host and terminal through the lifecycle on loopback and watch them")
    mode.add_argument("--attach", metavar="URL",
                      help="watch a running 'possim host' or 'possim terminal' started with --traffic URL")
    mode.add_argument("--tap", nargs=2, metavar=("LISTEN", "UPSTREAM"),
                      help="proxy a real terminal (connecting to LISTEN) to its real host (UPSTREAM) and decode "
                           "what passes; TCP to TCP or serial to serial")
    p.add_argument("--dialect", default="cup-pos", help="dialect of tapped traffic (default: cup-pos)")
    p.add_argument("--framing", help="framing of tapped traffic (default: the dialect's)")
    p.add_argument("--cases-db", metavar="PATH",
                   help="the attached host's --db file: show its return cases (read-only) in a side panel")
    p.add_argument("--filter", default="", metavar="TEXT",
                   help="start with this filter, e.g. 'mti=0200,0210 rc=05' (keys: mti stan tid rc link dir role; "
                        "'errors')")
    p.add_argument("--buffer", type=int, default=50_000, metavar="N",
                   help="messages kept for scrolling back (oldest dropped first; default 50000)")
    p.add_argument("--pace", type=float, default=0.3, metavar="S",
                   help="--demo only: seconds between the terminal's steps (default 0.3)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from possim.tui.app import TrafficApp
        from possim.tui.model import parse_filter
        from possim.tui.sources import AttachSource, TapSource
    except ModuleNotFoundError as exc:  # textual is an optional part of an install
        raise UsageError(f"possim tui needs the '{exc.name}' package (pip install textual)") from None
    if args.buffer < 1:
        raise UsageError(f"--buffer: expected at least 1, got {args.buffer}")
    parse_filter(args.filter)  # a bad filter is bad input: refuse it before the screen opens
    show_cases = False
    filter_text = args.filter
    cases_db = args.cases_db
    source: object
    if args.demo:
        from possim.tui.demo import DemoSource

        if args.pace < 0:
            raise UsageError(f"--pace: expected seconds >= 0, got {args.pace}")
        source = DemoSource(pace=args.pace)
        source.open()
        cases_db = cases_db or source.host_db
        show_cases = True
        filter_text = filter_text or "role=host"  # each frame is seen by both ends; show the host's view
    elif args.attach:
        from possim.traffic import parse_traffic_url

        parse_traffic_url(args.attach)
        source = AttachSource(args.attach)
    else:
        listen, upstream = args.tap
        source = TapSource(listen, upstream, dialect=args.dialect, framing=args.framing)
        source.open()
    app = TrafficApp(source, unmask=bool(getattr(args, "unmask", False)), capacity=args.buffer,  # type: ignore[arg-type]
                     cases_db=cases_db, show_cases=show_cases, filter_text=filter_text)
    try:
        app.run()
    except PossimError:
        raise
    finally:
        if args.demo or args.tap:
            source.stop()  # type: ignore[attr-defined]
    return 0
