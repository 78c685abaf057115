"""``possim demo``: a merchant's whole life, in-process, on the embedded defaults.

The run is a scenario file shipped in this package (``merchant_life.yaml``), so the demo and the scenario
engine share one definition of every step and its expected outcome; this package only presents it.
"""
