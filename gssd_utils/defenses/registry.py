"""The defense registry: importing this module registers every defense.

``build_defense(name, config, recipe).run(DefenseInput(...))`` trains a classifier on a possibly poisoned set and
says which samples it set aside. Adding a defense is one module in this package plus its import below.
"""

from gssd_utils.defenses import abl, asd, dbd, gssd, knn_energy, nad, none  # noqa: F401  (registers them)
from gssd_utils.defenses.base import (
    DEFENSES,
    Defense,
    DefenseInput,
    DefenseOutcome,
    MissingCleanDataError,
    build_defense,
    get_defense_class,
)
from gssd_utils.profiles import TABLE1_DEFENSES


def defense_names() -> tuple[str, ...]:
    """Every registered defense, Table 1's first in its order (the order of every listing and default)."""
    return tuple(dict.fromkeys([*(n for n in TABLE1_DEFENSES if n in DEFENSES), *DEFENSES]))


__all__ = [
    "DEFENSES",
    "Defense",
    "DefenseInput",
    "DefenseOutcome",
    "MissingCleanDataError",
    "build_defense",
    "defense_names",
    "get_defense_class",
]
