from __future__ import annotations

import numpy as np
import pytest

from gssd_utils.data import ImageDataset, load_digits32


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own artifact cache, so no test reuses another's trained model."""
    monkeypatch.setenv("GSSD_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def digits() -> ImageDataset:
    return load_digits32()


@pytest.fixture()
def tiny() -> ImageDataset:
    """A random 10-class set: enough for geometry and counting tests."""
    rng = np.random.default_rng(0)
    return ImageDataset(
        x_train=rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8),
        y_train=np.repeat(np.arange(10), 20),
        x_test=rng.integers(0, 256, (50, 32, 32, 3), dtype=np.uint8),
        y_test=np.repeat(np.arange(10), 5),
        classes=tuple(str(i) for i in range(10)),
        info={"name": "tiny"},
    )
