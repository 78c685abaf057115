"""``python -m possim`` runs the CLI."""

from possim.cli import entry

entry()
