"""Target-class detection and the poisoning score (the paper's Figs. 2 and 3)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from gssd_utils.gssd.detection import ClassStatistics, DetectionConfig
from gssd_utils.plots.style import TARGET_COLOUR, panel_grid

_ND_LABELS = {"paper": "S_ND (nats per dimension)", "calibrated": "runner-up score T (t units)"}
_HISTOGRAM_LABELS = {"v": "v = max foreign density (per dimension)", "u": "u = log v (nats per dimension)"}


def class_statistics(stats: Mapping[str, ClassStatistics], config: DetectionConfig, target: int) -> plt.Figure:
    """The non-disruptive score (S_ND under the paper's rule, the runner-up score T under the calibrated one) and S_D
    per class for each attack, with the thresholds: flagged classes red, the true target outlined in the target
    colour. One pair of panels (score above S_D) per attack, four attacks to a row."""
    names = list(stats)
    columns = min(4, len(names))
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(2 * rows, columns, figsize=(3.6 * columns, 4.6 * rows), squeeze=False)
    for k in range(rows * columns):
        top, bottom = axes[2 * (k // columns), k % columns], axes[2 * (k // columns) + 1, k % columns]
        if k >= len(names):
            top.set_visible(False)
            bottom.set_visible(False)
            continue
        s = stats[names[k]]
        classes = np.arange(len(s.s_nd))
        for ax, values, threshold, label in ((top, s.nd_score, s.nd_threshold, _ND_LABELS[s.rule]),
                                             (bottom, s.s_d, config.beta_d, "S_D (share of the class)")):
            colours = ["tab:red" if kind is not None else "tab:grey" for kind in s.kind]
            bars = ax.bar(classes, values, color=colours)
            bars[target].set_edgecolor(TARGET_COLOUR)
            bars[target].set_linewidth(2.5)
            ax.axhline(threshold, color="black", ls="--", lw=1)
            ax.set_xticks(classes)
            ax.set_ylabel(label, fontsize=8)
        top.set_title(names[k], fontsize=10)
        bottom.set_xlabel("class (outlined: the true target)", fontsize=8)
    rules = {s.rule for s in stats.values()}
    above = "−β_ND" if rules == {"paper"} else "the score at the false-alarm level"
    fig.suptitle(f"{' / '.join(sorted(rules))} rule. Red: flagged; dashed: {above} (top), β_D (bottom)", fontsize=9)
    fig.tight_layout()
    return fig


def v_histograms(stats: ClassStatistics, classes: Mapping[str, int], config: DetectionConfig,
                 title: str = "") -> plt.Figure:
    """Histograms of the maximum foreign density as detection bins it (v in 30 bins under the paper's rule, u = log v
    at the Freedman-Diaconis width under the calibrated one), with λ and μ on the same scale."""
    fig, axes = plt.subplots(1, len(classes), figsize=(4 * len(classes), 3), squeeze=False)
    for ax, (name, c) in zip(axes[0], classes.items(), strict=True):
        counts, edges = stats.v_histograms[c]
        colour = TARGET_COLOUR if name == "target" else "tab:blue"
        ax.stairs(counts, edges, fill=True, alpha=0.7, color=colour)
        lam = stats.lam[c] if stats.lam is not None else config.lam
        ax.axvline(lam, color="black", ls="--", lw=1, label=f"λ = {lam:.2f}")
        if not np.isnan(stats.mu[c]):
            ax.axvline(stats.mu[c], color="tab:red", lw=1, label=f"μ = {stats.mu[c]:.2f}")
        ax.set_title(f"{name} (class {c}): S_D = {stats.s_d[c]:.3f}", fontsize=9)
        ax.set_xlabel(_HISTOGRAM_LABELS[stats.histogram_scale])
        ax.set_ylabel("samples")
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def poisoning_scores_figure(sigma: Mapping[str, tuple[np.ndarray, np.ndarray, float, float]]) -> plt.Figure:
    """Per panel (σ of the target class's samples, their poisoned mask, D̂_P cut, D̂_C cut), like Fig. 3.

    Samples are drawn in dataset order; the dashed lines are the score cut-offs of D̂_P (above) and D̂_C (below).
    """
    fig, axes = panel_grid(len(sigma), columns=3, width=4.4, height=3.2)
    for ax, (title, (scores, poisoned, cut_p, cut_c)) in zip(axes, sigma.items(), strict=True):
        index = np.arange(len(scores))
        ax.scatter(index[~poisoned], scores[~poisoned], s=2, color="tab:blue", label="clean", rasterized=True)
        ax.scatter(index[poisoned], scores[poisoned], s=2, color="tab:red", label="poisoned", rasterized=True)
        ax.axhline(cut_p, color="black", ls="--", lw=1)
        ax.axhline(cut_c, color="grey", ls="--", lw=1)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("sample of the target class")
        ax.set_ylabel("σ (log-ratio, nats per dimension)")
        ax.legend(fontsize=7, markerscale=4)
    fig.tight_layout()
    return fig
