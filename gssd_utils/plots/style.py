"""What every figure shares: the target class's colour (the paper's brown) and a grid layout that stays legible at
the book's width."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt

TARGET_COLOUR = (0.55, 0.27, 0.07)  # the target class, in every figure (the paper's Figure 1 draws it brown)
POISON_COLOUR = "black"


def panel_grid(panels: int, columns: int = 3, width: float = 4.2, height: float = 3.4, **kwargs):
    """A figure with ``panels`` axes in rows of at most ``columns``; the unused axes are hidden."""
    columns = max(1, min(columns, panels))
    rows = math.ceil(panels / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False, **kwargs)
    for ax in axes.flat[panels:]:
        ax.set_visible(False)
    return fig, axes.flat[:panels]
