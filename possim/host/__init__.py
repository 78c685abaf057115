"""The acquirer host simulator: back office, handlers and ledger (SQLite).

Sub-modules are imported directly (``possim.host.cases``, ``possim.host.fees``
...); this package file stays empty so importing one part never drags in the
others.
"""
