"""Table 1 over several train seeds: each defense's mean and range, so a row is more than one draw.

The poisoned set is the same for every seed (the poison seed is separate); each seed retrains every model. A
results file of train seed N > 0 is named ``<name>_seed<N>``, seed 0's is ``<name>`` itself (``seed_file_name``),
so a one-seed run and the seeds added later sit side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from gssd_utils.results_io import load_results

# Table 1's committed spread: every defense on BadNets at its paper rate, one results file per train seed
SPREAD_NAME = "table1_badnets"
SPREAD_SEEDS = (0, 1, 2)
# the measures whose spread Table 1 shows; TPR/FPR are the field's elimination and sacrifice rates
SPREAD_COLUMNS = ("ACC", "ASR", "DER %", "poisons caught %", "clean set aside %")
KEEP = ("ACC paper", "ASR paper", "paper source")


def seed_file_name(name: str, seed: int) -> str:
    return name if seed == 0 else f"{name}_seed{seed}"


def seed_results(directory: str | Path, name: str, seeds: Sequence[int]) -> dict[int, tuple[pd.DataFrame, dict]]:
    """The results files of ``name`` for each of ``seeds`` that exists in ``directory``: {seed: (table, record)}."""
    found = {seed: load_results(directory, seed_file_name(name, seed)) for seed in seeds}
    return {seed: part for seed, part in found.items() if part is not None}


def seed_spread(tables: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """Per (attack, rate, defense): how many seeds, and each ``SPREAD_COLUMNS`` measure's mean, min and max over
    them, in the first table's row order; the paper's numbers beside."""
    rows = pd.concat([table.assign(**{"train seed": seed}) for seed, table in tables.items()], ignore_index=True)
    keys = ["attack", "rate", "defense"]
    grouped = rows.groupby(keys, sort=False)
    measures = [c for c in SPREAD_COLUMNS if c in rows]
    summary = grouped[measures].agg(["mean", "min", "max"]).round(2)
    summary.columns = [name if stat == "mean" else f"{name} {stat}" for name, stat in summary.columns]
    summary.insert(0, "seeds", grouped["train seed"].apply(lambda s: ",".join(map(str, sorted(s)))))
    kept = grouped[[c for c in KEEP if c in rows]].first()
    return pd.concat([summary, kept], axis=1).reset_index()
