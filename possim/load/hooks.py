"""Locust event listeners of possim load: the command-line options and the terminal leases.

Imported by the locustfile; importing it registers the listeners on
Locust's global ``events``, as Locust plugins do.
"""

from __future__ import annotations

from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from possim.load.leases import Leases
from possim.load.pool import TerminalPool
from possim.load.options import LoadOptions, add_arguments, from_parsed
from possim.load.summary import summary_from_stats, write_summary

_LEASES_ATTR = "_possim_leases"
#: The environment of this process, kept by ``init`` for the ``quit`` listener (which is not given it).
_environment: list[Environment] = []


def options(environment: Environment) -> LoadOptions:
    return from_parsed(environment.parsed_options)


def leases(environment: Environment) -> Leases:
    """This process's lease service (made on first use when ``init`` did not run, as in library use)."""
    found = getattr(environment, _LEASES_ATTR, None)
    if found is None:
        found = _make_leases(environment)
    return found


def _make_leases(environment: Environment) -> Leases:
    pool = None
    if not isinstance(environment.runner, WorkerRunner):  # the master or a stand-alone runner owns the pool
        pool = TerminalPool(t.tid for t in options(environment).fleet().terminals)
    made = Leases(environment, pool)
    setattr(environment, _LEASES_ATTR, made)
    return made


@events.init_command_line_parser.add_listener
def _on_parser(parser: Any, **_: Any) -> None:
    add_arguments(parser)


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    if environment.runner is not None:
        _make_leases(environment)
    _environment[:] = [environment]


@events.quit.add_listener
def _on_quit(**_: Any) -> None:
    """Write --possim-summary from the final statistics (the master's, once every worker has reported)."""
    if not _environment:
        return
    environment = _environment[0]
    path = getattr(environment.parsed_options, "possim_summary", "") if environment.parsed_options else ""
    if path and not isinstance(environment.runner, WorkerRunner):
        write_summary(summary_from_stats(environment.stats), path)
