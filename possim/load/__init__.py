"""Load against a host with Locust: users that act as CUP POS terminals (docs/load.md).

``possim.load.users`` and ``possim.load.locustfile`` import Locust (and with
it gevent's monkeypatching); the rest of the package does not, so the CLI,
the ledger reconciliation and the config generator can be used without it.
"""
