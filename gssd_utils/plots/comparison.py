"""Table 1 at a glance: ACC against ASR of every defense, one panel per attack, ours beside the paper's."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from gssd_utils.plots.style import panel_grid

MARKERS = "osD^vP*Xhp"


def comparison_figure(table: pd.DataFrame, title: str = "") -> plt.Figure:
    """Each defense a marker: filled where we measured it, hollow at the paper's number, joined by a thin line.

    Good defenses sit top left (high accuracy, low attack success); no defense sits at the right.
    """
    attacks = list(dict.fromkeys(table["attack"]))
    defenses = list(dict.fromkeys(table["defense"]))
    fig, axes = panel_grid(len(attacks), columns=3, width=4.2, height=3.6)
    colours = plt.get_cmap("tab10")
    for ax, attack in zip(axes, attacks, strict=True):
        part = table[table["attack"] == attack]
        for k, defense in enumerate(defenses):
            row = part[part["defense"] == defense]
            if row.empty:
                continue
            row = row.iloc[0]
            style = {"marker": MARKERS[k % len(MARKERS)], "color": colours(k % 10), "s": 46}
            ax.scatter(row["ASR"], row["ACC"], label=defense, **style)
            if pd.notna(row["ACC paper"]):
                ax.scatter(row["ASR paper"], row["ACC paper"], facecolors="none", edgecolors=style["color"],
                           marker=style["marker"], s=46)
                ax.plot([row["ASR"], row["ASR paper"]], [row["ACC"], row["ACC paper"]], color=style["color"],
                        lw=0.6, alpha=0.5)
        ax.set_title(f"{attack} (rate {part['rate'].iloc[0]:g})", fontsize=10)
        ax.set_xlabel("ASR (%)")
        ax.set_ylabel("ACC (%)")
        ax.set_xlim(-4, 104)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8, frameon=False,
               title="filled: ours; hollow: the paper's", title_fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.1 if len(attacks) <= 3 else 0.06, 1, 0.95))
    return fig
