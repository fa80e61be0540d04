"""The attack gallery of the first notebook."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from gssd_utils.attacks import PoisonedDataset


def attack_gallery(poisoned: Mapping[str, PoisonedDataset], n_images: int = 3) -> plt.Figure:
    """Clean vs triggered (test-time trigger) images per attack, with the trigger residual magnified.

    The residual |x' - x| is stretched so that its largest value in each row is white; the factor is in
    the row title, because invisible triggers (Blend at alpha 0.1, the 3/255 chessboard) only show that way.
    """
    fig, axes = plt.subplots(len(poisoned), 3 * n_images, figsize=(1.6 * 3 * n_images, 1.9 * len(poisoned)),
                             squeeze=False)
    for row, (name, run) in enumerate(poisoned.items()):
        # Test-time pairs: a clean non-target test image and its triggered copy, so the residual is the trigger.
        clean = run.data.x_test[run.data.y_test != run.config.target][:n_images]
        triggered = run.x_test_triggered[:n_images]
        residual = np.abs(triggered.astype(np.int16) - clean.astype(np.int16))
        peak = max(int(residual.max()), 1)
        for col in range(len(clean)):
            panels = (clean[col], triggered[col], (residual[col] * (255 / peak)).astype(np.uint8))
            for k, (img, label) in enumerate(zip(panels, ("clean", "triggered", f"|diff| x{255 / peak:.0f}"),
                                                 strict=True)):
                ax = axes[row, 3 * col + k]
                ax.imshow(img, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if row == 0 or k == 2:
                    ax.set_title(label, fontsize=8)
        axes[row, 0].set_ylabel(name, fontsize=10)
    fig.tight_layout()
    return fig
