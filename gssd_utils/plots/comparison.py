"""Table 1 at a glance: ACC against ASR of every defense, one panel per attack, ours beside the paper's."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gssd_utils.plots.style import panel_grid

MARKERS = "osD^vP*Xhp"


def comparison_figure(table: pd.DataFrame, title: str = "") -> plt.Figure:
    """Each defense a marker: filled where we measured it, hollow at the paper's number, joined by a thin line.

    Good defenses sit top left (high accuracy, low attack success); no defense sits at the right. A table over
    several seeds (``spread.seed_spread``) draws its means, with bars from each measure's min to its max.
    """
    spread = "ACC min" in table
    attacks = list(dict.fromkeys(table["attack"]))
    defenses = list(dict.fromkeys(table["defense"]))
    one = len(attacks) == 1  # a single narrow panel: taller, fewer legend columns, more room below
    fig, axes = panel_grid(len(attacks), columns=3, width=5.0 if one else 4.2, height=5.0 if one else 3.6)
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
            if spread:
                ax.errorbar(row["ASR"], row["ACC"], xerr=[[row["ASR"] - row["ASR min"]], [row["ASR max"] - row["ASR"]]],
                            yerr=[[row["ACC"] - row["ACC min"]], [row["ACC max"] - row["ACC"]]], fmt="none",
                            ecolor=style["color"], elinewidth=0.9, capsize=2)
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
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 3 if one else 5), fontsize=8, frameon=False,
               title="filled: ours" + (" (mean; bars: min to max over seeds)" if spread else "")
               + "; hollow: the paper's", title_fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.2 if one else 0.1 if len(attacks) <= 3 else 0.06, 1, 0.95))
    return fig


def headline_figure(comparison: pd.DataFrame, defenses: tuple[str, ...] = ("No defense", "GSSD")) -> plt.Figure:
    """The front page's figure, ACC (left) and ASR (right) per attack: for each defense a bar for ours and a
    hatched one for the paper's."""
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
