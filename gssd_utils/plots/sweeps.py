"""Hyperparameter robustness: split quality against one hyperparameter at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from gssd_utils.evaluation import SplitEvaluation
from gssd_utils.plots.style import panel_grid

# what each panel draws: the label, and how to read it off a split evaluation (a fraction, NaN when undefined)
METRICS = {
    "suspect precision": lambda q: q.suspect_precision,
    "suspect recall": lambda q: q.suspect_recall,
    "relabel accuracy": lambda q: np.nan if q.relabel_accuracy is None else q.relabel_accuracy,
}


def sweep_figure(sweeps: Mapping[str, Sequence[tuple[float, SplitEvaluation]]], defaults: Mapping[str, float],
                 title: str = "") -> plt.Figure:
    """One panel per hyperparameter; the paper's value marked; crosses where the target class was missed."""
    fig, axes = panel_grid(len(sweeps), columns=3, width=3.8, height=3.2)
    for ax, (parameter, points) in zip(axes, sweeps.items(), strict=True):
        values = [value for value, _ in points]
        for label, read in METRICS.items():
            ax.plot(values, [100 * read(q) for _, q in points], marker="o", ms=3, label=label)
        missed = [value for value, q in points if not q.target_detected]
        ax.scatter(missed, [0] * len(missed), marker="x", color="red", label="target missed")
        ax.axvline(defaults[parameter], color="grey", ls="--", lw=1)
        ax.set_xlabel(parameter)
        ax.set_ylim(-5, 105)
        ax.set_ylabel("%")
    axes[-1].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
