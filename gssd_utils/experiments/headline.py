"""The front page's table: the headline result of the build, read from its Table 1 results file.

Per attack: no defense and GSSD (and every other defense the build ran), ours beside the paper's with the
difference (its figure is ``plots.comparison.headline_figure``). Pandas only: the front page imports no torch.
"""

from __future__ import annotations

import pandas as pd


def headline_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """One row per (attack, defense): ACC and ASR, ours and the paper's, and ours minus the paper's."""
    table = comparison[["attack", "rate", "defense", "ACC", "ACC paper", "ASR", "ASR paper"]].copy()
    table["ACC ours - paper"] = (table["ACC"] - table["ACC paper"]).round(2)
    table["ASR ours - paper"] = (table["ASR"] - table["ASR paper"]).round(2)
    return table
