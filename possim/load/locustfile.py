"""The locustfile of possim load: ``locust -f <this file> --host tcp://HOST:PORT``.

``possim load`` runs Locust with it; it works the same with plain ``locust``,
including ``--master``/``--worker`` across machines (docs/load.md).
"""

from possim.load import hooks  # noqa: F401  (registers --possim-* options and the terminal leases)
from possim.load.users import PosTerminal

__all__ = ["PosTerminal"]
