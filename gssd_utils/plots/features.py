"""SimCLR training curves and the 2-D map of the self-supervised features (the paper's Fig. 1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from gssd_utils.plots.style import POISON_COLOUR, TARGET_COLOUR, panel_grid


def loss_curves(curves: Mapping[str, Sequence[float]], ylabel: str, title: str = "") -> plt.Figure:
    """One line per named curve against the epoch."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(curves) > 1:
        ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def feature_map(panels: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray, int]]) -> plt.Figure:
    """Per panel (xy, labels, poisoned mask, target): clean points in their class colour, poisons in black.

    The target class is drawn in brown as in the paper; poisons on top so that a few hundred stay visible.
    Three panels to a row.
    """
    fig, axes = panel_grid(len(panels), columns=3, width=4.6, height=4.4)
    for ax, (title, (xy, labels, poisoned, target)) in zip(axes, panels.items(), strict=True):
        colours = plt.get_cmap("tab10")(labels % 10)
        colours[labels == target] = (*TARGET_COLOUR, 1.0)
        clean = ~poisoned
        ax.scatter(xy[clean, 0], xy[clean, 1], c=colours[clean], s=2, linewidths=0, rasterized=True)
        ax.scatter(xy[poisoned, 0], xy[poisoned, 1], c=POISON_COLOUR, s=3, linewidths=0, rasterized=True,
                   label=f"poisoned ({poisoned.sum()})")
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(loc="lower right", fontsize=8, markerscale=4)
    fig.tight_layout()
    return fig
