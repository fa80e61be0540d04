"""Backdoor attacks behind a registry keyed by name, and the all-to-one poisoning that uses them.

Adding an attack: write a module with a frozen config dataclass (paper defaults, range checks in
``__post_init__``) and an ``Attack`` subclass decorated with ``@register``, then import it here.
"""

from gssd_utils.attacks import (  # noqa: F401  (registers the attacks)
    adaptive,
    badnets,
    blend,
    chessboard,
    clean,
    issba,
    label_consistent,
    wanet,
)
from gssd_utils.attacks.base import ATTACKS, Attack, attack_names, build_attack, get_attack_class, make_config
from gssd_utils.attacks.poisoning import (
    PoisonConfig,
    PoisonedDataset,
    PoisonTruth,
    load_truth,
    poison_count,
    poison_dataset,
    select_poison_indices,
)

__all__ = [
    "ATTACKS",
    "Attack",
    "PoisonConfig",
    "PoisonTruth",
    "PoisonedDataset",
    "attack_names",
    "build_attack",
    "get_attack_class",
    "load_truth",
    "make_config",
    "poison_count",
    "poison_dataset",
    "select_poison_indices",
]
