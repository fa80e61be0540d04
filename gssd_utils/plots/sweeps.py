"""Hyperparameter robustness: split quality against one hyperparameter at a time."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import pandas as pd

METRICS = ("suspect precision %", "suspect recall %", "relabel acc %")


def sweep_figure(sweeps: Mapping[str, pd.DataFrame], defaults: Mapping[str, float], title: str = "") -> plt.Figure:
    """One panel per hyperparameter; the paper's value marked; crosses where the target class was missed."""
    fig, axes = plt.subplots(1, len(sweeps), figsize=(3.3 * len(sweeps), 3.2), squeeze=False, sharey=True)
    for ax, (parameter, table) in zip(axes[0], sweeps.items(), strict=True):
        for metric in METRICS:
            ax.plot(table[parameter], table[metric], marker="o", ms=3, label=metric.replace(" %", ""))
        missed = table[~table["target detected"].astype(bool)]
        ax.scatter(missed[parameter], [0] * len(missed), marker="x", color="red", label="target missed")
        ax.axvline(defaults[parameter], color="grey", ls="--", lw=1)
        ax.set_xlabel(parameter)
        ax.set_ylim(-5, 105)
    axes[0, 0].set_ylabel("%")
    axes[0, -1].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
