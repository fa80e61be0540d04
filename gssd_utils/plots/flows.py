"""The per-class likelihood matrix of the flows."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def loglik_heatmap(loglik: np.ndarray, labels: np.ndarray, poisoned: np.ndarray, title: str = "") -> plt.Figure:
    """Mean per-dimension log-likelihood of each (observed label, flow) pair, poisoned samples as their own row.

    A poisoned row that looks like another class's row is what non-disruptive poisoning means.
    """
    num_classes = loglik.shape[1]
    rows, names = [], []
    for c in range(num_classes):
        members = (labels == c) & ~poisoned
        rows.append(loglik[members].mean(0))
        names.append(f"class {c}")
    if poisoned.any():
        rows.append(loglik[poisoned].mean(0))
        names.append("poisoned")
    matrix = np.array(rows)
    fig, ax = plt.subplots(figsize=(6.5, 5))
    image = ax.imshow(matrix, cmap="viridis", aspect="auto")
    ax.set_xticks(range(num_classes), [str(c) for c in range(num_classes)])
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("flow of class k")
    ax.set_ylabel("samples (observed label, clean) / poisoned")
    for tick in ax.get_yticklabels():  # the poisoned row in the poisons' colour
        if tick.get_text() == "poisoned":
            tick.set_fontweight("bold")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label="mean log p_k(z) / D (nats per dimension)")
    fig.tight_layout()
    return fig
