"""The embedded data set: scikit-learn's bundled handwritten digits as 32x32 RGB images.

It ships with scikit-learn, so tests and the smoke profile run with no download and no data folder.
These are real images (1,797 of them), not noise, so an attack and a defense behave meaningfully on them.
"""

from __future__ import annotations

import numpy as np

from gssd_utils.data.dataset import ImageDataset

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def load_digits32() -> ImageDataset:
    import torch  # here, not at the top: loading any data module must stay cheap for the command line
    from sklearn.datasets import load_digits as _sklearn_digits
    from sklearn.model_selection import train_test_split
    from torch.nn import functional as F

    bunch = _sklearn_digits()
    grey = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)
    grey = F.interpolate(grey, size=(32, 32), mode="bilinear", align_corners=False)
    images = (grey.clamp(0, 1) * 255).round().to(torch.uint8).squeeze(1).numpy()
    rgb = np.repeat(images[..., None], 3, axis=-1)
    labels = bunch.target.astype(np.int64)
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=labels
    )
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    return ImageDataset(
        x_train=rgb[train_idx],
        y_train=labels[train_idx],
        x_test=rgb[test_idx],
        y_test=labels[test_idx],
        classes=tuple(str(d) for d in range(10)),
        info={
            "name": "digits32",
            "source": "scikit-learn load_digits (embedded), bilinear 8x8 -> 32x32, grey -> RGB",
            "canonical": True,
            "split": f"stratified {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%}, seed {SPLIT_SEED}",
        },
    )
