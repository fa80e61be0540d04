"""The CPU tier's classifier recipe, chosen by measurement: ACC and the ASR of a 1% BadNets backdoor against
minutes of training, for each candidate recipe at a few budgets.

A recipe is a ``TrainConfig`` and a training-set size. Every point of a curve is its own training (a schedule
depends on the run's length, so a shorter run is not the prefix of a longer one), checkpointed in the cache, and
the results file is rewritten after each point, so an interrupted search keeps what it measured.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd

from gssd_utils.attacks import PoisonConfig, poison_dataset
from gssd_utils.cache import cache_path, config_key
from gssd_utils.data import load_dataset
from gssd_utils.no_defense import data_identity
from gssd_utils.provenance import Provenance
from gssd_utils.results_io import write_results
from gssd_utils.training import TrainConfig, accuracy, attack_success_rate, train_classifier

# airbench94's optimiser, rescaled from batch 1024 with a summed loss to batch 256 with a mean loss: the same
# step per example (lr 11.5 / 1024 / (1 + 1/(1 - 0.85)) x 256) and the same weight decay per epoch
AIRBENCH = TrainConfig(arch="airnet", width=16, epochs=4, batch_size=256, lr=0.375, momentum=0.85, nesterov=True,
                       weight_decay=1.33e-3, schedule="triangle", label_smoothing=0.2, bias_lr_scale=64.0,
                       lookahead=True, crop_padding=2, pad_mode="reflect", alternate_flip=True, tta=True)
SMALL_CNN = TrainConfig(arch="small_cnn", width=32, epochs=30, batch_size=128, lr=0.05, schedule="cosine")


@dataclass(frozen=True)
class Recipe:
    name: str
    config: TrainConfig
    n_train: int
    epochs: tuple[int, ...]  # one training per budget
    note: str = ""


RECIPES = {r.name: r for r in (
    Recipe("small-cnn-10k", SMALL_CNN, 10_000, (15, 30), "the quick tier before this search"),
    Recipe("small-cnn-50k", SMALL_CNN, 50_000, (3, 6)),
    Recipe("airnet16-10k", AIRBENCH, 10_000, (10, 20)),
    Recipe("airnet16-50k", AIRBENCH, 50_000, (2, 4, 6)),
    Recipe("airnet24-50k", replace(AIRBENCH, width=24), 50_000, (2, 3)),
    Recipe("airnet16-50k-plain", replace(AIRBENCH, lookahead=False, label_smoothing=0.0, tta=False,
                                         bias_lr_scale=1.0), 50_000, (4,), "airnet16 without the training tricks"),
)}


def measure_recipe(recipe: Recipe, epochs: int, rate: float = 0.01, data_root: str | None = None,
                   test_size: int | None = None, progress: bool = True) -> dict:
    """Train ``recipe`` for ``epochs`` on its data poisoned by BadNets at ``rate``; ACC, ASR and minutes."""
    data = load_dataset("cifar10", data_root).subset(recipe.n_train, test_size)
    poisoned = poison_dataset(data, PoisonConfig("badnets", rate=rate), progress=progress)
    config = replace(recipe.config, epochs=epochs)
    key = config_key("recipe", data_identity(poisoned.data), poisoned.config.as_dict(), asdict(config))
    model, history = train_classifier(poisoned.data.x_train, poisoned.data.y_train, data.num_classes, config,
                                      checkpoint=cache_path("classifier", key, ".pt"), progress=progress)
    started = time.perf_counter()
    acc = accuracy(model, data.x_test, data.y_test)
    asr = attack_success_rate(model, poisoned.x_test_triggered, 0)
    return {"recipe": recipe.name, "arch": f"{config.arch} w{config.width}", "n_train": recipe.n_train,
            "epochs": epochs, "train minutes": round(sum(history["epoch_time_s"]) / 60, 2),
            "eval seconds": round(time.perf_counter() - started, 1), "ACC %": round(100 * acc, 2),
            f"ASR BadNets {rate:g} %": round(100 * asr, 2), "n_poisoned": len(poisoned.truth.poison_indices),
            "note": recipe.note}


def recipe_curves(names: Sequence[str], out: str | Path, rate: float = 0.01, data_root: str | None = None,
                  test_size: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Measure every budget of every named recipe, rewriting ``out/classifier_recipes.*`` after each point."""
    unknown = sorted(set(names) - set(RECIPES))
    if unknown:
        raise ValueError(f"unknown recipe {', '.join(unknown)}; choose from {', '.join(RECIPES)}")
    provenance = Provenance(profile="quick", data=data_identity(load_dataset("cifar10", data_root)))
    provenance.data["test images"] = test_size or "all"
    rows = []
    for name in names:
        recipe = RECIPES[name]
        for epochs in recipe.epochs:
            with provenance.timed(f"{name} x{epochs}"):
                rows.append(measure_recipe(recipe, epochs, rate, data_root, test_size, progress))
            table = pd.DataFrame(rows)
            table.attrs["profile"] = "candidate recipes of the quick tier, BadNets (GSSD 2x2 patch) at 1%"
            write_results(table, provenance, out, "classifier_recipes")
    return pd.DataFrame(rows)
