"""A defense's curves: ACC and ASR after every epoch of each of its stages, the stages side by side."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

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
