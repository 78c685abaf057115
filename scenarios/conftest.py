"""Collect the scenario files here even before possim's pytest plugin is installed as an entry point."""

from __future__ import annotations

import pytest

from possim.scenario import pytest_plugin


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.is_registered(pytest_plugin):
        config.pluginmanager.register(pytest_plugin, "possim-scenarios")
