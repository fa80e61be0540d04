"""Loaders: CIFAR-10 layout, md5 status, offline download failure, npz validation, embedded digits."""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from gssd_utils.data import (
    CorruptDataError,
    DataNotFoundError,
    load_cifar10,
    load_dataset,
    load_digits32,
    load_npz_dataset,
    resolve_data_root,
)
from gssd_utils.data.cifar10 import OFFICIAL_MD5

SHARED_CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10"


def _write_fake_cifar(root: Path, n: int = 20) -> Path:
    batch_dir = root / "cifar-10-batches-py"
    batch_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in OFFICIAL_MD5:
        entry = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "labels": list(range(10)) * (n // 10)}
        (batch_dir / name).write_bytes(pickle.dumps(entry))
    return batch_dir


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("GSSD_DATA", str(tmp_path))
    assert resolve_data_root() == tmp_path
    assert resolve_data_root("/elsewhere") == Path("/elsewhere")
    monkeypatch.delenv("GSSD_DATA")
    assert resolve_data_root() == Path("data")


def test_reads_the_standard_layout_and_flags_a_non_canonical_copy(tmp_path):
    _write_fake_cifar(tmp_path)
    with pytest.warns(UserWarning, match="not the canonical release"):
        data = load_cifar10(tmp_path, download=False)
    assert data.x_train.shape == (100, 32, 32, 3) and data.x_train.dtype == np.uint8
    assert data.x_test.shape == (20, 32, 32, 3)
    assert data.info["canonical"] is False
    assert data.info["md5_mismatch"] == sorted(OFFICIAL_MD5)


def test_channel_order_is_converted_to_nhwc(tmp_path):
    batch_dir = _write_fake_cifar(tmp_path)
    entry = pickle.loads((batch_dir / "test_batch").read_bytes())
    with pytest.warns(UserWarning):
        data = load_cifar10(tmp_path, download=False)
    first = entry["data"][0]
    np.testing.assert_array_equal(data.x_test[0, :, :, 0].ravel(), first[:1024])
    np.testing.assert_array_equal(data.x_test[0, :, :, 2].ravel(), first[2048:])


def test_nested_cifar10_folder_is_found(tmp_path):
    _write_fake_cifar(tmp_path / "cifar10")
    with pytest.warns(UserWarning):
        assert load_cifar10(tmp_path, download=False).num_classes == 10


def test_missing_data_without_download_names_folders_and_variable(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"cifar-10-batches-py.*GSSD_DATA"):
        load_cifar10(tmp_path / "nowhere", download=False)


def test_download_path_offline_gives_a_clear_error(tmp_path, monkeypatch):
    """The real torchvision download, pointed at a closed local port: it must fail fast and clearly."""
    from torchvision.datasets import CIFAR10

    monkeypatch.setattr(CIFAR10, "url", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    with pytest.raises(DataNotFoundError, match=r"download failed.*Fix: set \$GSSD_DATA"):
        load_cifar10(tmp_path / "fresh")


def test_truncated_batch_is_reported_as_corrupt(tmp_path):
    batch_dir = _write_fake_cifar(tmp_path)
    raw = (batch_dir / "data_batch_3").read_bytes()
    (batch_dir / "data_batch_3").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CorruptDataError, match=r"data_batch_3 is not a readable CIFAR-10 batch.*download it again"):
        load_cifar10(tmp_path, download=False)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    batch_dir = _write_fake_cifar(tmp_path)

    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (batch_dir / "data_batch_1").write_bytes(pickle.dumps({"data": Exploit(), "labels": [0]}))
    with pytest.raises(CorruptDataError, match="refusing to load"):
        load_cifar10(tmp_path, download=False)


def test_missing_batch_is_named(tmp_path):
    batch_dir = _write_fake_cifar(tmp_path)
    (batch_dir / "test_batch").unlink()
    with pytest.raises(DataNotFoundError, match="lacks test_batch"):
        load_cifar10(tmp_path, download=False)


@pytest.mark.skipif(not SHARED_CIFAR.is_dir(), reason="the offline CIFAR-10 copy is not beside this checkout")
def test_shared_offline_copy_loads_with_its_md5_status():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_cifar10(SHARED_CIFAR, download=False)
    assert data.x_train.shape == (50000, 32, 32, 3) and data.x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(data.y_train).tolist() == [5000] * 10
    assert data.info["md5"]["data_batch_1"] == "bcbc9106b310647090b5b7f5da0102bd"
    assert data.info["canonical"] is False
    assert sum("not the canonical release" in str(w.message) for w in caught) == 1


def test_digits_are_real_32px_rgb_and_split_deterministically():
    a, b = load_digits32(), load_digits32()
    assert a.x_train.shape[1:] == (32, 32, 3) and a.x_train.dtype == np.uint8
    assert len(a.x_train) + len(a.x_test) == 1797
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert set(np.unique(a.y_train)) == set(range(10))
    assert a.x_train.max() == 255 and a.x_train.std() > 50  # not blank, not noise-free


def test_stratified_subset_keeps_class_shares(digits):
    sub = digits.subset(500, 100, seed=0)
    assert len(sub.y_train) == 500 and len(sub.y_test) == 100
    assert np.bincount(sub.y_train).min() >= 45
    np.testing.assert_array_equal(sub.y_train, digits.subset(500, 100, seed=0).y_train)


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match=r"unknown data set 'mnist'.*cifar10, digits32"):
        load_dataset("mnist")


def _save_npz(path, **overrides):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (30, 8, 8, 3), dtype=np.uint8), "y_train": np.arange(30) % 3,
        "x_test": rng.integers(0, 256, (9, 8, 8, 3), dtype=np.uint8), "y_test": np.arange(9) % 3,
    }
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


def test_npz_round_trip(tmp_path):
    user = load_npz_dataset(_save_npz(tmp_path / "ok.npz"))
    assert user.data.num_classes == 3 and user.x_test_triggered is None and user.clean is None
    assert user.data.identity()["source"] == "npz file ok.npz" and len(user.data.identity()["md5"]) == 32


@pytest.mark.parametrize(("overrides", "match"), [
    ({"y_test": None}, r"missing y_test"),
    ({"x_train": np.zeros((30, 8, 8, 3), np.float32)}, r"must be uint8"),
    ({"x_train": np.zeros((30, 3, 8, 8), np.uint8)}, r"NHWC with 3 channels"),
    ({"y_train": np.arange(29) % 3}, r"one label per image"),
    ({"y_train": np.arange(30) % 3 - 1}, r"class indices 0..C-1"),
    ({"y_train": (np.arange(30) % 3) * 2}, r"no sample of classes \[1, 3\]"),
    ({"y_test": np.arange(9) % 4}, r"y_test holds label 3"),
    ({"extra": np.zeros(3)}, r"unexpected arrays extra"),
    ({"y_train": (np.arange(30) % 3).astype(float)}, r"labels must be integers"),
])
def test_npz_validator_names_the_problem(tmp_path, overrides, match):
    with pytest.raises(ValueError, match=match):
        load_npz_dataset(_save_npz(tmp_path / "bad.npz", **overrides))


def test_npz_with_object_arrays_is_not_unpickled(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, x_train=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CorruptDataError, match="object arrays"):
        load_npz_dataset(path)


def test_corrupt_npz(tmp_path):
    path = tmp_path / "corrupt.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(CorruptDataError, match=r"not an \.npz archive"):
        load_npz_dataset(path)


def test_json_writes_undefined_numbers_as_null(tmp_path):
    import json

    from gssd_utils.atomic_io import save_json

    record = {"precision": float("nan"), "rows": [np.float32(0.5), np.inf], "n": np.int64(3)}
    path = save_json(tmp_path / "r.json", record)
    strict = json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"non-standard JSON {name}"))
    assert strict == {"precision": None, "rows": [0.5, None], "n": 3}
