"""Image folders and the data set registry: layout checks before decoding, resizing, identity, the registered
folder data sets offline, and ``gssd defend --data DIR`` end to end."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gssd_utils.atomic_io import load_npz
from gssd_utils.cli import main
from gssd_utils.data import (
    DATASETS,
    DataNotFoundError,
    DataTooLargeError,
    ImageFolderError,
    load_dataset,
    load_user_data,
    memory,
)
from gssd_utils.data.registry import IMAGENET30


def _tree(root: Path, classes=("cat", "dog"), shape=(40, 50), per_split=(("train", 4), ("test", 2)),
          seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for split, n in per_split:
        for c in classes:
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(root / split / c / f"{i}.png")
    return root


def test_labels_follow_the_class_folders_and_optional_parts_are_read(tmp_path):
    root = _tree(tmp_path / "mine", per_split=(("train", 3), ("val", 2), ("clean", 1)))
    (root / "triggered").mkdir()
    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(root / "triggered" / "t.jpg")
    (root / "train" / "cat" / "notes.txt").write_text("not an image")  # ignored, like ImageFolder
    user = load_user_data(root, image_size=32)
    assert user.data.classes == ("cat", "dog") and user.data.y_train.tolist() == [0, 0, 0, 1, 1, 1]
    assert user.data.x_train.shape == (6, 32, 32, 3) and user.data.x_test.shape == (4, 32, 32, 3)
    assert user.x_test_triggered.shape == (1, 32, 32, 3) and user.clean[1].tolist() == [0, 1]
    assert user.data.info["train_files"][3] == "train/dog/0.png"
    assert user.data.identity()["resolution"] == 32


def test_resizing_keeps_the_centre_and_leaves_images_of_the_size_alone(tmp_path):
    root = tmp_path / "centre"
    for split in ("train", "test"):
        for c in ("a", "b"):
            (root / split / c).mkdir(parents=True)
            image = np.zeros((64, 128, 3), np.uint8)
            image[:, 32:96] = 200  # the centre square is bright, the sides dark
            Image.fromarray(image).save(root / split / c / "0.png")
    data = load_dataset(str(root), image_size=32)
    assert data.x_train.min() >= 190  # the short side to 32 * 256 / 224, the centre crop inside the bright square
    kept = load_dataset(str(_tree(tmp_path / "native", shape=(16, 16))))
    original = np.asarray(Image.open(tmp_path / "native" / "train" / "cat" / "0.png"))
    np.testing.assert_array_equal(kept.x_train[0], original)


def test_identity_follows_the_content_not_the_place(tmp_path):
    root = _tree(tmp_path / "a")
    first = load_dataset(str(root), image_size=32).identity()
    moved = shutil.copytree(root, tmp_path / "elsewhere" / "a")
    assert load_dataset(str(moved), image_size=32).identity() == first
    Image.fromarray(np.full((40, 50, 3), 7, np.uint8)).save(moved / "train" / "cat" / "0.png")
    assert load_dataset(str(moved), image_size=32).identity()["md5"] != first["md5"]


@pytest.mark.parametrize("breakage, match", [
    (lambda r: shutil.rmtree(r / "test"), r"expected train/ and test/ \(or val/\)"),
    (lambda r: (r / "test" / "bird").mkdir(), r"class 'bird' is not one of train/'s classes"),
    (lambda r: [p.unlink() for p in (r / "test" / "dog").iterdir()], r"test/dog: no images"),
    (lambda r: (r / "train" / "cat" / "0.png").write_bytes(b"garbage"), r"train/cat/0.png: not a readable image"),
    (lambda r: shutil.rmtree(r / "train" / "dog") or (r / "test" / "dog").rename(r / "test" / "x"),
     r"1 class folder\(s\)"),
])
def test_a_malformed_folder_gets_one_line_naming_the_problem(tmp_path, breakage, match):
    root = _tree(tmp_path / "bad")
    breakage(root)
    with pytest.raises(ImageFolderError, match=match):
        load_dataset(str(root), image_size=32)


def test_mixed_sizes_without_a_resolution_ask_for_one(tmp_path):
    root = _tree(tmp_path / "mixed", shape=(32, 32))
    Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(root / "test" / "dog" / "9.png")
    with pytest.raises(ImageFolderError, match=r"must all be one square size.*--image-size 224"):
        load_dataset(str(root))


def test_a_folder_that_will_not_fit_is_refused_before_decoding(tmp_path, monkeypatch):
    root = _tree(tmp_path / "big")
    monkeypatch.setattr(memory, "available_bytes", lambda: 1 << 20)
    decoded = []
    monkeypatch.setattr("gssd_utils.data.image_folder._decode", lambda *a: decoded.append(a))
    refusal = r"12 images at 224x224 px need about 0\.0 GiB \(2 uint8 copies\) and 0\.0 GiB is available\. Fix"
    with pytest.raises(DataTooLargeError, match=refusal):
        load_dataset(str(root), image_size=224)
    assert not decoded
    assert memory.need_bytes(42_000, 224) / 2**30 == pytest.approx(11.8, abs=0.05)  # ImageNet-30, train + test


def test_registered_folder_data_sets_offline_name_the_folder_and_the_source(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"imagenet30/train/ and test/.*hendrycks/ss-ood.*GSSD_DATA"):
        load_dataset("imagenet30", tmp_path)
    with pytest.raises(DataNotFoundError, match=r"vggface2_30/train/.*no public list"):
        load_dataset("vggface2_30", tmp_path)
    with pytest.raises(ValueError, match=r"cifar10 is 32 px; image_size=64 applies to image folders only"):
        load_dataset("cifar10", tmp_path, image_size=64)
    assert {"cifar10", "digits32", "imagenet30", "vggface2_30"} <= set(DATASETS)


def test_imagenet30_reads_wnid_folders_in_the_class_lists_order(tmp_path):
    wnids = list(IMAGENET30.values())
    _tree(tmp_path / "imagenet30", classes=wnids, shape=(24, 24), per_split=(("train", 1), ("test", 1)))
    data = load_dataset("imagenet30", tmp_path, image_size=16)
    assert data.classes == tuple(IMAGENET30) and data.num_classes == 30
    order = sorted(range(30), key=lambda i: wnids[i])  # files come class folder by class folder, in label order
    assert data.y_train.tolist() == list(range(30)) and order != list(range(30))
    shutil.rmtree(tmp_path / "imagenet30" / "train" / wnids[0])
    with pytest.raises(ImageFolderError, match=r"expected the 30 class folders"):
        load_dataset("imagenet30", tmp_path, image_size=16)


@pytest.mark.slow
def test_defend_on_an_image_folder_end_to_end(tmp_path):
    poisoned = tmp_path / "poisoned"
    main(["poison", "--profile", "smoke", "--attack", "badnets", "--out", str(poisoned)])
    arrays, truth = load_npz(poisoned / "data.npz"), load_npz(poisoned / "truth.npz")
    root = tmp_path / "folder"
    for split in ("train", "test"):
        for i, (image, label) in enumerate(zip(arrays[f"x_{split}"], arrays[f"y_{split}"], strict=True)):
            (root / split / f"c{label}").mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / split / f"c{label}" / f"{i:05d}.png")
    # the folder's order: class by class, then by file name; the truth is re-indexed to it
    order = np.lexsort((np.arange(len(arrays["y_train"])), arrays["y_train"]))
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    folder_truth = tmp_path / "truth.npz"
    np.savez(folder_truth, poison_indices=np.sort(position[truth["poison_indices"]]), target=truth["target"])
    out = tmp_path / "out"
    tiny = ["--set", "ssl.epochs=1", "--set", "flows.epochs=2"]  # the plumbing is under test, not the defense
    main(["defend", "--data", str(root), "--profile", "smoke", "--truth", str(folder_truth), "--out", str(out), *tiny])
    report = json.loads((out / "report.json").read_text())
    removed = load_npz(out / "removed.npz")
    assert report["evaluation"]["n_poisoned"] == len(truth["poison_indices"])
    assert len(removed["removed_files"]) == len(removed["removed_indices"]) == report["removed"]
    assert all(name.startswith("train/c") for name in removed["removed_files"])
    assert report["provenance"]["data"]["resolution"] == 32 and "train_files" not in report["provenance"]["data"]


def test_a_chapter_runs_on_the_data_its_data_parameter_names(tmp_path):
    from gssd_utils.experiments.book import Chapter

    root = _tree(tmp_path / "mine", shape=(32, 32), per_split=(("train", 20), ("test", 4)))
    chapter = Chapter("01_attacks", "smoke", data=str(root), results_dir=tmp_path / "results", progress=False)
    assert chapter.profile.dataset == str(root) and chapter.data.classes == ("cat", "dog")
    assert "-p data '.../mine'" in chapter.provenance.command and str(tmp_path) not in chapter.provenance.command
