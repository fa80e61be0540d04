"""The front page: the headline result of the build, read from its Table 1 results file.

Per attack: no defense and GSSD (and every other defense the build ran), ours beside the paper's with the
difference; and one figure of ACC and ASR per attack, ours against the paper's.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def headline_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """One row per (attack, defense): ACC and ASR, ours and the paper's, and ours minus the paper's."""
    table = comparison[["attack", "rate", "defense", "ACC", "ACC paper", "ASR", "ASR paper"]].copy()
    table["ACC ours - paper"] = (table["ACC"] - table["ACC paper"]).round(2)
    table["ASR ours - paper"] = (table["ASR"] - table["ASR paper"]).round(2)
    return table


def headline_figure(comparison: pd.DataFrame, defenses: tuple[str, ...] = ("No defense", "GSSD")) -> plt.Figure:
    """ACC (left) and ASR (right) per attack: for each defense a bar for ours and a hatched one for the paper's."""
    table = comparison[comparison["defense"].isin(defenses)]
    attacks = list(dict.fromkeys(table["attack"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    width = 0.8 / (2 * len(defenses))
    colours = {"No defense": "tab:grey", "GSSD": "tab:red"}
    for ax, metric in zip(axes, ("ACC", "ASR"), strict=True):
        for k, defense in enumerate(defenses):
            part = table[table["defense"] == defense].set_index("attack").reindex(attacks)
            x = np.arange(len(attacks)) + (2 * k - len(defenses)) * width + width / 2
            colour = colours.get(defense, f"C{k}")
            ax.bar(x, part[metric], width, color=colour, label=f"{defense}, ours")
            ax.bar(x + width, part[f"{metric} paper"].astype(float), width, color="white", edgecolor=colour,
                   hatch="///", label=f"{defense}, the paper's")
        ax.set_xticks(np.arange(len(attacks)), attacks)
        ax.set_ylabel(f"{metric} (%)")
        ax.set_ylim(0, 105)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_title("clean accuracy: higher is better", fontsize=10)
    axes[1].set_title("attack success: lower is better", fontsize=10)
    axes[1].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig
