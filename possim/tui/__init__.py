"""The live-traffic screen (``possim tui``): a Textual app that only reads the traffic bus.

``model`` holds the logic a screen needs (bounded buffer, filters, pairing,
counters) and runs without Textual; ``app`` and the widgets paint it; the
sources feed it from a bus, a ``--traffic`` socket, a tap or the demo.
See docs/tui.md.
"""
