"""The 224-px paper profiles' code at their own batch sizes, one step of each stage, on a generated image folder.

What ``make book PROFILE=paper-dryrun`` is for the 32-px paper profile, at a cost CI can pay: a 224-px book trains
for hours even on 300 images on a CPU, while one step per stage takes about a minute and still runs every piece a
GPU user would meet first (the registered folder loader and its resize, the 224-px triggers, the SSL step, feature
extraction, the flows, the detection rule and split, the classifier), each at the profile's batch size, with its
peak memory printed. Noise images carry no signal: the figures are costs, not results, and a first step's
seconds include one-off setup (kernel selection, allocation); rates to plan by come from ``gssd bench``.
"""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from gssd_utils.attacks.poisoning import poison_dataset
from gssd_utils.data.registry import DATASETS
from gssd_utils.gssd.batched_flows import to_per_class, train_class_flows_batched
from gssd_utils.gssd.detection import detect_target_classes
from gssd_utils.gssd.flows import loglik_matrix
from gssd_utils.gssd.splitting import split_and_relabel
from gssd_utils.profiles import Profile
from gssd_utils.provenance import default_device, device_description
from gssd_utils.ssl.features import extract_features, standardize
from gssd_utils.ssl.train import train_ssl
from gssd_utils.training.classifier import train_classifier
from gssd_utils.training.metrics import predict


def write_image_folder(root: Path, classes: tuple[str, ...], train_per_class: int, test_per_class: int, size: int,
                       seed: int = 0) -> Path:
    """A ``train/<class>/``, ``test/<class>/`` tree of seeded noise JPEGs, larger than ``size`` and not square, so
    that the loader's resize and centre crop run as on real photographs."""
    rng = np.random.default_rng(seed)
    shape = (size * 9 // 8, size * 5 // 4, 3)
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"{i:04d}.jpg", quality=90)
    return root


_STATUS, _CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def _reset_peak(device: torch.device) -> None:
    """Start a stage's peak afresh: the allocator's on a GPU; on Linux the resident set's high-water mark."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    elif _CLEAR_REFS.exists():
        _CLEAR_REFS.write_text("5")  # resets VmHWM (proc(5)); ru_maxrss cannot be reset


def _peak_gib(device: torch.device) -> float:
    """The process's peak memory during the stage: the GPU's allocations on a GPU, else the resident set's
    high-water mark (VmHWM; where /proc is absent, the process's peak so far, ru_maxrss)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    if _STATUS.exists():
        line = next(line for line in _STATUS.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _start(device: torch.device) -> float:
    _reset_peak(device)
    return time.perf_counter()


def step_check(profile: Profile, train_per_class: int = 24, test_per_class: int = 2,
               device: torch.device | None = None, echo: Callable[[str], None] | None = None) -> pd.DataFrame:
    """One row per stage: what it ran on, the batch it used (the profile's, capped by the images generated), its
    seconds and its peak memory. ``train_per_class`` must leave every class a flow's minimum after poisoning (the
    official flow batch and smallest class are 16); the default 24 (720 images for 30 classes) does so at the
    paper's 10% rate, and a setting that does not is refused before any training."""
    spec = DATASETS.get(profile.dataset)
    if spec is None or not spec.resizable:
        raise ValueError(f"gssd step-check runs the image-folder profiles (paper-imagenet30, paper-vggface2); "
                         f"{profile.name} reads {profile.dataset}. Fix: run `make book PROFILE=paper-dryrun` for "
                         "the 32-px paper profile")
    device = device or default_device()
    size = profile.image_size or spec.image_size
    classes = spec.classes or tuple(f"n{i + 1:06d}" for i in range(spec.num_classes))
    rows: list[dict] = []

    def record(stage: str, batch: int | str, started: float) -> None:
        rows.append({"stage": stage, "batch": batch, "seconds": round(time.perf_counter() - started, 1),
                     "peak memory (GiB)": round(_peak_gib(device), 2)})
        if echo is not None:
            echo(f"{stage}: batch {batch}, {rows[-1]['seconds']} s, peak {rows[-1]['peak memory (GiB)']} GiB")

    with tempfile.TemporaryDirectory(prefix="gssd-step-check-") as tmp:
        started = _start(device)
        write_image_folder(Path(tmp) / spec.name, classes, train_per_class, test_per_class, size)
        data = profile.load_data(tmp)  # through the registered loader, as the user's copy would be
        record(f"load {spec.name} ({len(data.x_train)} + {len(data.x_test)} images at {size} px)", "-", started)

    poisoned = {}
    for attack in profile.attacks:
        started = _start(device)
        poisoned[attack] = poison_dataset(data, profile.poison_config(attack), progress=False)
        record(f"poison: {attack} ({len(poisoned[attack].truth.poison_indices)} images)", "-", started)
    first = poisoned[profile.attacks[0]]
    x, y = first.data.x_train, first.data.y_train
    smallest = int(np.bincount(y, minlength=data.num_classes).min())
    needed = max(profile.flows.batch_size, profile.flows.min_class_size)
    if smallest < needed:
        enough = -(-train_per_class * needed // max(smallest, 1))
        raise ValueError(f"--per-class {train_per_class} leaves a class with {smallest} images after poisoning, "
                         f"fewer than a flow needs ({needed}). Fix: --per-class {enough}")

    ssl = replace(profile.ssl, epochs=1, batch_size=min(profile.ssl.batch_size, len(x)))
    started = _start(device)
    model, _ = train_ssl(x[: ssl.batch_size], ssl, device=device, progress=False)
    record(f"{ssl.method} step ({ssl.arch}, two views)", ssl.batch_size, started)
    started = _start(device)
    (features,) = standardize(extract_features(model.backbone, x, device=device))
    record(f"features ({features.shape[1]}-d)", 512, started)

    flows_config = replace(profile.flows, epochs=1)
    started = _start(device)
    flows, _ = train_class_flows_batched(features, y, data.num_classes, flows_config, device, progress=False)
    loglik = loglik_matrix(to_per_class(flows, flows_config), features)
    record("flows: one epoch, all classes", flows_config.batch_size, started)
    started = _start(device)
    stats = detect_target_classes(loglik, y, profile.detection)
    split_and_relabel(loglik, y, stats, profile.split)
    record(f"detection ({profile.detection.rule} rule) + split", "-", started)

    classifier = replace(profile.classifier, epochs=1)
    batch = min(classifier.batch_size, len(x))
    started = _start(device)
    network, _ = train_classifier(x[:batch], y[:batch], data.num_classes, classifier, device=device, progress=False)
    predict(network, data.x_test, device=device)
    record(f"classifier step ({classifier.arch}) + test predictions", batch, started)

    table = pd.DataFrame(rows)
    table.attrs["device"] = device_description(device)
    table.attrs["profile"] = profile.describe()
    return table
