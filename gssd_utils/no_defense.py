"""The "No Defense" baseline: a classifier trained on the poisoned set, measured by ACC and ASR.

This is the first row of every table in the paper and the evidence that each attack actually works at
the chosen scale. Trained models are cached by config, so the book re-uses them on re-runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import pandas as pd
from torch import nn

from gssd_utils import paper_reference
from gssd_utils.attacks import PoisonedDataset, poison_dataset
from gssd_utils.cache import cache_path, config_key
from gssd_utils.data import ImageDataset, load_dataset
from gssd_utils.profiles import Profile
from gssd_utils.provenance import Provenance
from gssd_utils.training import accuracy, attack_success_rate, train_classifier


def load_profile_data(profile: Profile, data_root: str | Path | None = None) -> ImageDataset:
    return load_dataset(profile.dataset, data_root).subset(profile.n_train, profile.n_test, profile.subset_seed)


def data_identity(data: ImageDataset) -> dict:
    """What distinguishes one copy and subset of a data set from another, for cache keys and provenance."""
    keys = ("name", "canonical", "md5", "subset", "split", "source")
    return {k: data.info[k] for k in keys if k in data.info}


def poisoned_classifier(poisoned: PoisonedDataset, profile: Profile, progress: bool = True) -> tuple[nn.Module, dict]:
    """The profile's classifier trained on the poisoned set (cached), and its training history."""
    config = profile.classifier
    key = config_key(data_identity(poisoned.data), poisoned.config.as_dict(), asdict(config))
    return train_classifier(poisoned.data.x_train, poisoned.data.y_train, poisoned.data.num_classes, config,
                            checkpoint=cache_path("classifier", key, ".pt"), progress=progress)


def train_on_poisoned(poisoned: PoisonedDataset, profile: Profile, progress: bool = True) -> dict:
    """Train (or load from the cache) the no-defense classifier and measure it."""
    model, history = poisoned_classifier(poisoned, profile, progress)
    train_time = sum(history["epoch_time_s"])
    return {
        "acc": accuracy(model, poisoned.data.x_test, poisoned.data.y_test),
        "asr": attack_success_rate(model, poisoned.x_test_triggered, poisoned.config.target),
        "train_loss": history["loss"],
        "train_time_s": train_time,
        "train_images_per_s": len(poisoned.data.y_train) * profile.classifier.epochs / max(train_time, 1e-9),
    }


def run_no_defense(
    profile: Profile,
    attacks: Sequence[str],
    rates: Sequence[float | None] = (None,),
    target: int = 0,
    seed: int = 0,
    data_root: str | Path | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, Provenance]:
    """One row per (rate, attack): our ACC/ASR at this profile beside the paper's no-defense numbers.

    Several ``rates`` measure how much poison an attack needs before its backdoor takes at this scale; a rate of
    None is the attack's own (the paper's). Paper numbers only appear on rows at the paper's rate.
    """
    provenance = Provenance(profile=profile.name, data={})
    with provenance.timed("load data"):
        data = load_profile_data(profile, data_root)
    provenance.data = data_identity(data)
    rows = []
    for rate in rates:
        for attack in attacks:
            label = attack if rate is None else f"{attack} @ {rate:g}"
            with provenance.timed(f"{label}: poison"):
                poisoned = poison_dataset(data, profile.poison_config(attack, rate, target, seed), progress)
            with provenance.timed(f"{label}: train + evaluate"):
                measured = train_on_poisoned(poisoned, profile, progress)
            resolved = poisoned.config.resolved_rate()
            paper_acc, paper_asr, source = paper_reference.at_paper_rate(paper_reference.NO_DEFENSE, attack, resolved)
            rows.append({
                "attack": attack,
                "rate": resolved,
                "n_poisoned": len(poisoned.truth.poison_indices),
                "ACC ours": round(100 * measured["acc"], 2),
                "ASR ours": round(100 * measured["asr"], 2),
                "ACC paper": paper_acc,
                "ASR paper": paper_asr,
                "paper source": source or "—",
                "train time (s)": round(measured["train_time_s"], 1),
                "train img/s": round(measured["train_images_per_s"]),
            })
    table = pd.DataFrame(rows)
    table.attrs["profile"] = profile.describe()
    return table, provenance
