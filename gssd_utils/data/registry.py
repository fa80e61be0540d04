"""The data sets by name, each with its resolution and class count, plus any image folder or npz by path.

A profile's ``dataset`` (and a notebook's ``data`` parameter) is one of the names below, a folder in the
ImageFolder layout (``gssd_utils.data.image_folder``) or an ``.npz`` in the bring-your-own format. Adding a data
set is one loader and one ``DataSetSpec`` line.

ImageNet-30 is the 30-class ImageNet subset of Hendrycks et al., "Using self-supervised learning can improve model
robustness and uncertainty" (NeurIPS 2019), distributed with github.com/hendrycks/ss-ood; the class list below is
theirs (folder names, or the ILSVRC wnids beside them). The official GSSD code gives no class list for it or for
VGGFace2-30, and no public list of VGGFace2-30's identities exists (DBD and ASD each drew 30 and did not publish
them), so ``vggface2_30`` takes whichever 30 identity folders the user puts there, in sorted order, and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gssd_utils.data.cifar10 import DATA_ENV, DataNotFoundError, load_cifar10, resolve_data_root
from gssd_utils.data.dataset import ImageDataset
from gssd_utils.data.digits import load_digits32
from gssd_utils.data.image_folder import TEST_SPLITS, list_folder, load_image_folder
from gssd_utils.data.npz_dataset import UserData, load_npz_dataset, read_arrays

IMAGENET30 = {  # folder name: ILSVRC wnid (Hendrycks et al. 2019)
    "acorn": "n12267677", "airliner": "n02690373", "ambulance": "n02701002", "american_alligator": "n01698640",
    "banjo": "n02787622", "barn": "n02793495", "bikini": "n02837789", "digital_clock": "n03196217",
    "dragonfly": "n02268443", "dumbbell": "n03255030", "forklift": "n03384352", "goblet": "n03443371",
    "grand_piano": "n03452741", "hotdog": "n07697537", "hourglass": "n03544143", "manhole_cover": "n03717622",
    "mosque": "n03788195", "nail": "n03804744", "parking_meter": "n03891332", "pillow": "n03938244",
    "revolver": "n04086273", "rotary_dial_telephone": "n03187595", "schooner": "n04147183",
    "snowmobile": "n04252077", "soccer_ball": "n04254680", "stingray": "n01498041", "strawberry": "n07745940",
    "tank": "n04389033", "toaster": "n04442312", "volcano": "n09472597",
}


@dataclass(frozen=True)
class DataSetSpec:
    """A registered data set: its native resolution and class count, how it is loaded from the data root, and
    whether it is an image folder (whose images can be brought to another resolution) or fixed arrays.
    ``n_train``: its training images, for planning a sweep on a machine that does not hold the data; ``classes``:
    its class folders' names, where the data set fixes them."""

    name: str
    image_size: int
    num_classes: int
    n_train: int
    about: str
    load: Callable[[Path, int], ImageDataset]
    resizable: bool = False
    classes: tuple[str, ...] = ()


def _folder_or_missing(root: Path, folder: str, what: str, how: str) -> Path:
    path = root / folder
    if (path / "train").is_dir() and any((path / s).is_dir() for s in TEST_SPLITS):
        return path
    raise DataNotFoundError(f"{what} not found: looked for {path.resolve()}/train/ and test/ (or val/). Fix: {how}, "
                            f"so that {path}/train/<class>/ and {path}/test/<class>/ hold the class folders, and set "
                            f"${DATA_ENV} (or --data-root) to {root}")


def _imagenet30(root: Path, size: int) -> ImageDataset:
    path = _folder_or_missing(root, "imagenet30", "ImageNet-30", "download ImageNet-30's train and test archives "
                              "from github.com/hendrycks/ss-ood (its README links them) and unpack them")
    names = DATASETS["imagenet30"].classes
    found = {p.name for p in (path / "train").iterdir() if p.is_dir()}
    classes = tuple(IMAGENET30[n] for n in names) if found == set(IMAGENET30.values()) else names
    data, _, _ = load_image_folder(path, size, classes, name="imagenet30")
    return ImageDataset(data.x_train, data.y_train, data.x_test, data.y_test, names, data.info)


def _vggface2_30(root: Path, size: int) -> ImageDataset:
    path = _folder_or_missing(root, "vggface2_30", "VGGFace2-30", "put 30 VGGFace2 identity folders (n000002, ...) "
                              "of your choice in train/ and the same 30 in test/; no public list of the paper's "
                              "identities exists")
    data, _, _ = load_image_folder(path, size, name="vggface2_30")
    if data.num_classes != 30:
        raise ValueError(f"VGGFace2-30 at {path}: {data.num_classes} identity folders in train/, expected 30. Fix: "
                         "keep exactly 30 identities, or load the folder by its path to use any number")
    return data


DATASETS: dict[str, DataSetSpec] = {spec.name: spec for spec in (
    DataSetSpec("cifar10", 32, 10, 50_000, "CIFAR-10, the python batches (torchvision downloads them when online)",
                lambda root, size: load_cifar10(root)),
    DataSetSpec("digits32", 32, 10, 1_437, "scikit-learn's embedded digits at 32x32 RGB (smoke; no download)",
                lambda root, size: load_digits32()),
    DataSetSpec("imagenet30", 224, 30, 39_000, "ImageNet-30 (Hendrycks et al. 2019) as an image folder, at 224 px",
                _imagenet30, resizable=True, classes=tuple(IMAGENET30)),
    # its size depends on the identities chosen: planned at VGGFace2's mean, 362 images per identity (Cao et al. 2018)
    DataSetSpec("vggface2_30", 224, 30, 30 * 362, "30 VGGFace2 identities of your choice as an image folder, at 224 px",
                _vggface2_30, resizable=True),
)}


def dataset_names() -> tuple[str, ...]:
    return tuple(DATASETS)


def planned_train_size(dataset: str) -> int | None:
    """The training images of a data set without decoding it: a registered one's stated size, a folder's file
    count, an npz's label count; None when the path does not exist here."""
    spec = DATASETS.get(dataset)
    if spec is not None:
        return spec.n_train
    path = Path(dataset).expanduser()
    if path.is_dir():
        return len(list_folder(path).train)
    if path.suffix == ".npz" and path.is_file():
        return len(read_arrays(path)["y_train"])
    return None


def load_dataset(name: str, root: str | Path | None = None, image_size: int | None = None) -> ImageDataset:
    """A registered data set (``root``: the data root, default ``$GSSD_DATA``), an image folder or an npz by path.

    ``image_size`` resizes an image folder's images (a registered folder data set defaults to its own size); the
    array data sets have one resolution and refuse another.
    """
    return load_user_data(name, root, image_size).data


def load_user_data(name: str | Path, root: str | Path | None = None, image_size: int | None = None) -> UserData:
    """As ``load_dataset``, with an image folder's or npz's optional triggered test images and clean reserve."""
    spec = DATASETS.get(str(name))
    if spec is not None:
        if image_size not in (None, spec.image_size) and not spec.resizable:
            raise ValueError(f"{spec.name} is {spec.image_size} px; image_size={image_size} applies to image "
                             "folders only. Fix: drop the setting")
        return UserData(spec.load(resolve_data_root(root), image_size or spec.image_size))
    path = Path(name).expanduser()
    if path.suffix == ".npz":
        if image_size is not None:
            raise ValueError(f"{path.name}: an npz keeps its own resolution; image_size applies to image folders. "
                             "Fix: drop the setting")
        return load_npz_dataset(path)
    if path.is_dir():
        data, triggered, clean = load_image_folder(path, image_size)
        return UserData(data, triggered, clean)
    raise ValueError(f"unknown data set {str(name)!r}; choose one of {', '.join(DATASETS)}, a folder holding "
                     "train/<class>/ and test/<class>/, or a path to an .npz file")
