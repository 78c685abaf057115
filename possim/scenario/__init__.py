"""Scenario files: the model and loader, matchers, the runner and its drivers, reports, the pytest plugin.

See docs/scenarios.md for the file format. Entry points: :func:`possim.scenario.api.load_paths`,
:func:`possim.scenario.api.driver_factory`, :func:`possim.scenario.api.run_scenarios`.
"""
