"""The one exception family possim raises on purpose.

Anything a user can cause (bad bytes, bad JSON, a bad key) surfaces as a
``PossimError`` whose message is one line naming what was wrong; the CLI turns
it into exit code 2 without a traceback.
"""


class PossimError(Exception):
    """Base of every error possim reports to a user."""


class UsageError(PossimError):
    """Bad command-line input or configuration."""
