"""The transaction mix of a load run: ``purchase=70,balance=10,void=10,refund=10``.

Weights, not percentages: Locust picks each task with probability weight /
sum of weights, so ``purchase=7,void=1`` is the same mix as ``70,10``.
"""

from __future__ import annotations

from possim.errors import UsageError

TASKS = ("purchase", "balance", "void", "refund")
DEFAULT_MIX = "purchase=70,balance=10,void=10,refund=10"


def parse_mix(text: str) -> dict[str, int]:
    """``name=weight`` pairs separated by commas; names not given get weight 0."""
    weights = dict.fromkeys(TASKS, 0)
    seen: set[str] = set()
    for i, part in enumerate(p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep:
            raise UsageError(f"--mix: item {i + 1} {part!r}: expected NAME=WEIGHT")
        if name not in weights:
            raise UsageError(f"--mix: unknown transaction {name!r}; expected one of {', '.join(TASKS)}")
        if name in seen:
            raise UsageError(f"--mix: {name} appears twice")
        seen.add(name)
        value = value.strip()
        if not value.isdigit():
            raise UsageError(f"--mix: {name}={value!r}: the weight must be a whole number >= 0")
        weights[name] = int(value)
    if not any(weights.values()):
        raise UsageError(f"--mix {text!r}: at least one weight must be above 0")
    return weights


def format_mix(weights: dict[str, int]) -> str:
    return ",".join(f"{name}={weights.get(name, 0)}" for name in TASKS)
