"""possim: a POS-terminal simulator and test harness.

The package is layered (see DESIGN.md): iso8583 -> security -> link ->
transport -> traffic -> host / terminal -> scenario -> tui -> cli.
"""

__version__ = "0.1.0"
