"""Curves of ACC and ASR: a defense's after every epoch of each of its stages, and GSSD's along its fine-tuning's
batch-norm statistics."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from gssd_utils.experiments.ablations import NORM_SHARE
from gssd_utils.plots.style import panel_grid

SPLIT_COLUMN = "poisons labelled %"


def stage_curves_figure(curves: pd.DataFrame, title: str = "") -> plt.Figure:
    """One panel per defense: ACC (solid) and ASR (dashed) against the epochs of its stages run one after the
    other, a dotted line where a stage starts (its epoch 0 is the model it starts from); where the defense splits
    the data (DBD), the share of the poisons its split would label, dotted."""
    defenses = list(dict.fromkeys(curves["defense"]))
    fig, axes = panel_grid(len(defenses), columns=2, width=5.6, height=3.6)
    for ax, defense in zip(axes, defenses, strict=True):
        part = curves[curves["defense"] == defense].reset_index(drop=True)
        position = part.index.to_numpy()
        ax.plot(position, part["ACC"], "-o", ms=3, color="tab:blue", label="ACC")
        ax.plot(position, part["ASR"], "--s", ms=3, color="tab:red", label="ASR")
        if SPLIT_COLUMN in part and part[SPLIT_COLUMN].notna().any():
            ax.plot(position, part[SPLIT_COLUMN], ":^", ms=3, color="tab:green", label="poisons labelled (%)")
        for stage, rows in part.groupby("stage", sort=False):
            start = rows.index.min()
            ax.axvline(start, color="grey", lw=0.6, ls=":")
            ax.text(start + 0.1, 101, stage, fontsize=8, va="bottom")
        ax.set_xticks(position, part["epoch"].astype(int), fontsize=7)
        ax.set_xlabel("epoch within the stage")
        ax.set_ylabel("%")
        ax.set_ylim(-3, 112)
        ax.set_title(f"{defense} ({part['attack'].iloc[0]})", fontsize=10, pad=14)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center right")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def norm_path_figure(path: pd.DataFrame, title: str = "") -> plt.Figure:
    """One panel per attack: the D̂_C model's ACC (solid) and ASR (dashed) against the share of the fine-tuned
    model's batch-norm statistics it normalises with (``ablations.norm_statistics_path``)."""
    attacks = list(dict.fromkeys(path["attack"]))
    fig, axes = panel_grid(len(attacks), columns=4, width=3.4, height=3.0)
    for ax, attack in zip(axes, attacks, strict=True):
        part = path[path["attack"] == attack]
        ax.plot(part[NORM_SHARE], part["ACC"], "-o", ms=3, color="tab:blue", label="ACC")
        ax.plot(part[NORM_SHARE], part["ASR"], "--s", ms=3, color="tab:red", label="ASR")
        ax.set_xlabel("share of the fine-tuned statistics")
        ax.set_ylabel("%")
        ax.set_ylim(-3, 103)
        ax.set_title(attack, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center left")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
