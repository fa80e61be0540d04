"""Image folders in torchvision's ImageFolder layout: ``train/<class>/*.jpg|png``, ``test/<class>/...``.

This is how ImageNet-30 and VGGFace2 are distributed and how most users hold their own data. The whole tree is
listed and checked (splits, classes, empty classes, one resolution) and its memory need compared with what the
machine has, all before the first image is decoded, so bad input fails in a second.

Resolution. Every stage works on fixed-size uint8 arrays, so each image is brought to ``size`` once, at load time,
by the official GSSD code's test transform scaled to ``size``: the shorter side resized to ``size * 256 / 224``
(bilinear), then the centre ``size`` x ``size`` crop. Images already ``size`` x ``size`` are kept as they are.
Without ``size`` every image must share one square resolution. The official code's training crop
(RandomResizedCrop(224) of the original image) here crops the stored 224-px image instead.

Optional, beside the splits: ``clean/<class>/...`` (a clean reserve for the defenses that need one) and
``triggered/*`` (triggered non-target test images, for the ASR), as the npz format's optional arrays.

Index order: class folders in label order, files sorted by name within each; ``info["train_files"]`` lists the
training files in that order, so that the indices a defense sets aside (and a ``--truth`` file's) name files.

Identity: an md5 over every file's path below the root and its bytes, so the same data moved elsewhere keeps its
cache entries and a changed file gets new ones.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from gssd_utils.data.dataset import ImageDataset
from gssd_utils.data.memory import check_fits

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff"})
TEST_SPLITS = ("test", "val")  # ImageNet-style trees name the held-out split val
RESIZE_RATIO = 256 / 224  # the official code: Resize(256) then CenterCrop(224)


class ImageFolderError(ValueError):
    """An image folder that does not have the expected layout; the message names the path and the fix."""


@dataclass(frozen=True)
class FolderListing:
    """The files of one tree, listed and checked but not decoded: (relative path, class index) per split."""

    root: Path
    classes: tuple[str, ...]
    train: tuple[tuple[str, int], ...]
    test: tuple[tuple[str, int], ...]
    clean: tuple[tuple[str, int], ...]
    triggered: tuple[str, ...]

    @property
    def n_images(self) -> int:
        return len(self.train) + len(self.test) + len(self.clean) + len(self.triggered)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS
                  and not p.name.startswith("."))


def _class_dirs(split: Path) -> list[Path]:
    return sorted(p for p in split.iterdir() if p.is_dir() and not p.name.startswith("."))


def _split(root: Path, split: Path, index: dict[str, int]) -> tuple[tuple[str, int], ...]:
    files = []
    folders = _class_dirs(split)
    for folder in folders:
        if folder.name not in index:
            raise ImageFolderError(f"{folder}: class {folder.name!r} is not one of train/'s classes. Fix: give every "
                                   "split the same class folders (train/ names the classes)")
    for folder in sorted(folders, key=lambda f: index[f.name]):
        found = _images(folder)
        if not found:
            raise ImageFolderError(f"{folder}: no images ({', '.join(sorted(EXTENSIONS))}). Fix: add images or "
                                   "remove the folder")
        files += [(str(p.relative_to(root)), index[folder.name]) for p in found]
    return tuple(files)


def list_folder(root: str | Path, classes: tuple[str, ...] | None = None) -> FolderListing:
    """The tree at ``root``, checked; ``classes`` (optional) the class folders it must hold, in label order."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ImageFolderError(f"image folder {root}: no such directory. Fix: pass a folder holding train/<class>/ "
                               "and test/<class>/")
    train_dir = root / "train"
    test_dir = next((root / s for s in TEST_SPLITS if (root / s).is_dir()), None)
    if not train_dir.is_dir() or test_dir is None:
        raise ImageFolderError(f"image folder {root}: expected train/ and test/ (or val/) with one folder per "
                               f"class, found {', '.join(p.name + '/' for p in _class_dirs(root)) or 'nothing'}")
    found = tuple(p.name for p in _class_dirs(train_dir))
    if classes is not None and set(found) != set(classes):
        missing, extra = sorted(set(classes) - set(found)), sorted(set(found) - set(classes))
        raise ImageFolderError(f"{train_dir}: expected the {len(classes)} class folders of this data set; missing "
                               f"{missing[:5] or 'none'}, unexpected {extra[:5] or 'none'}")
    order = classes if classes is not None else found
    if len(order) < 2:
        raise ImageFolderError(f"{train_dir}: {len(order)} class folder(s); a classifier needs at least two")
    index = {name: i for i, name in enumerate(order)}
    train = _split(root, train_dir, index)
    empty = sorted(set(order) - {order[label] for _, label in train})
    if empty:
        raise ImageFolderError(f"{train_dir}: no training images for classes {empty[:5]}. Fix: every class needs "
                               "training images")
    clean = _split(root, root / "clean", index) if (root / "clean").is_dir() else ()
    triggered = (tuple(str(p.relative_to(root)) for p in _images(root / "triggered"))
                 if (root / "triggered").is_dir() else ())
    return FolderListing(root, tuple(order), train, _split(root, test_dir, index), clean, triggered)


def _decode(raw: bytes, size: int | None, name: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as image:
            image = image.convert("RGB")
            if size is not None and image.size != (size, size):
                scale = round(size * RESIZE_RATIO) / min(image.size)
                image = image.resize((max(size, round(image.width * scale)), max(size, round(image.height * scale))),
                                     Image.BILINEAR)
                left, top = (image.width - size) // 2, (image.height - size) // 2
                image = image.crop((left, top, left + size, top + size))
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageFolderError(f"{name}: not a readable image ({exc}). Fix: replace or delete the file") from exc


def _probe_size(listing: FolderListing) -> int:
    """The one square resolution of the tree (read from headers only), for trees loaded without ``size``."""
    from PIL import Image

    sizes = {}
    for name in [f for f, _ in listing.train + listing.test + listing.clean] + list(listing.triggered):
        with Image.open(listing.root / name) as image:
            sizes.setdefault(image.size, name)
        if len(sizes) > 1:
            break
    width, height = next(iter(sizes))
    if len(sizes) > 1 or width != height:
        shapes = " and ".join(f"{w}x{h} ({n})" for (w, h), n in sizes.items())
        raise ImageFolderError(f"image folder {listing.root}: images are {shapes}; without a resolution they must "
                               "all be one square size. Fix: give one (gssd defend --image-size 224, or --set "
                               "image_size=224)")
    return width


def load_image_folder(root: str | Path, size: int | None = None, classes: tuple[str, ...] | None = None,
                      name: str | None = None) -> tuple[ImageDataset, np.ndarray | None,
                                                        tuple[np.ndarray, np.ndarray] | None]:
    """(the data set, its triggered test images or None, its clean reserve or None) from the tree at ``root``."""
    listing = list_folder(root, classes)
    if size is not None and size < 8:
        raise ImageFolderError(f"image size {size} is too small; give the side in pixels, e.g. 32 or 224")
    side = size if size is not None else _probe_size(listing)
    check_fits(listing.n_images, side, f"image folder {listing.root}")
    digest = hashlib.md5()

    def read(names: list[str], what: str) -> np.ndarray:
        out = np.empty((len(names), side, side, 3), dtype=np.uint8)
        for i, rel in enumerate(tqdm(names, desc=f"decode {what}", leave=False, disable=len(names) < 500)):
            raw = (listing.root / rel).read_bytes()
            digest.update(rel.encode() + b"\0" + hashlib.md5(raw).digest())
            out[i] = _decode(raw, size, str(listing.root / rel))
        return out

    def split(files: tuple[tuple[str, int], ...], what: str) -> tuple[np.ndarray, np.ndarray]:
        return read([f for f, _ in files], what), np.array([label for _, label in files], dtype=np.int64)

    x_train, y_train = split(listing.train, "train")
    x_test, y_test = split(listing.test, "test")
    clean = split(listing.clean, "clean") if listing.clean else None
    triggered = read(list(listing.triggered), "triggered") if listing.triggered else None
    data = ImageDataset(x_train, y_train, x_test, y_test, listing.classes, info={
        "name": name or listing.root.name, "source": f"image folder {listing.root.name}/ at {side} px",
        "md5": digest.hexdigest(), "canonical": None, "resolution": side,
        "train_files": tuple(f for f, _ in listing.train)})
    return data, triggered, clean
