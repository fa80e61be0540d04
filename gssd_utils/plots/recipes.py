"""How the CPU tier was chosen: what each candidate recipe reached against the minutes it trained on this machine."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def recipe_curves(classifiers: pd.DataFrame, simclr: pd.DataFrame, chosen: tuple[str, str] = ("", "")) -> plt.Figure:
    """Left: clean accuracy (solid) and the ASR of a 1% BadNets backdoor (dashed) per classifier recipe; right: the
    SimCLR features' kNN accuracy per SimCLR recipe against its epochs (the SimCLR candidates were measured in two
    searches on VMs of different speed, so their minutes, in the table, do not share one axis). One line per recipe,
    a point per budget; the chosen recipes drawn thicker, the targets of the CPU tier dotted."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    asr = next(c for c in classifiers.columns if c.startswith("ASR"))
    for k, (name, rows) in enumerate(classifiers.groupby("recipe", sort=False)):
        width = 2.5 if name == chosen[0] else 1.0
        axes[0].plot(rows["train minutes"], rows["ACC %"], marker="o", color=f"C{k}", lw=width, label=name)
        axes[0].plot(rows["train minutes"], rows[asr], marker="x", color=f"C{k}", lw=width, ls="--")
    axes[0].axhline(80, color="grey", ls=":", lw=1)
    axes[0].axhline(90, color="grey", ls=":", lw=1)
    axes[0].axvline(5, color="grey", ls=":", lw=1)
    axes[0].set_xlabel("minutes of training (this machine)")
    axes[0].set_ylabel("%: ACC (solid), ASR of 1% BadNets (dashed)")
    axes[0].legend(fontsize=7)
    for k, (name, rows) in enumerate(simclr.groupby("recipe", sort=False)):
        axes[1].plot(rows["epochs"], rows["kNN test accuracy %"], marker="o", color=f"C{k % 10}",
                     ls="-" if k < 10 else "--", lw=2.5 if name == chosen[1] else 1.0, label=name)
    axes[1].axhline(55, color="grey", ls=":", lw=1)
    axes[1].set_xlabel("SimCLR epochs (minutes per epoch: see the table)")
    axes[1].set_ylabel("kNN accuracy on the test set (%)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig
