"""The CPU tier's recipes, chosen by measurement on this machine.

- Classifier: ACC and the ASR of a 1% BadNets backdoor against minutes of training, for each candidate at a few
  budgets. A recipe is a ``TrainConfig`` and a training-set size; every point of a curve is its own training (a
  schedule depends on the run's length, so a shorter run is not the prefix of a longer one).
- SimCLR: kNN accuracy of the features on the clean test set (the training set, BadNets-poisoned at 10%, as the
  bank) and whether GSSD's flows then find the target, against minutes of training. SimCLR's learning rate is
  constant, so one run checkpointed per epoch gives the whole curve.
Everything is checkpointed in the cache and the results file is rewritten after each point, so an interrupted
search keeps what it measured.
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
from gssd_utils.evaluation import measure
from gssd_utils.profiles import QUICK_CLASSIFIER, get_profile
from gssd_utils.provenance import Provenance
from gssd_utils.results_io import write_results
from gssd_utils.training.classifier import train_classifier
from gssd_utils.training.config import SimCLRAugmentConfig, SimCLRConfig, TrainConfig

AIRBENCH = QUICK_CLASSIFIER  # the recipe the search chose, at the candidates' common settings
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


SIMCLR = SimCLRConfig(arch="small_cnn", width=32, epochs=3, batch_size=256, lr=1e-3)


@dataclass(frozen=True)
class SimclrRecipe:
    name: str
    config: SimCLRConfig
    epochs: int  # measured after every epoch up to this one
    note: str = ""


# the classifier's network, batch norm in the head, temperature 0.2 and crops from 20%: the later candidates change
# one thing of it each
_ALL = replace(SIMCLR, arch="airnet", width=16, head_batch_norm=True, temperature=0.2,
               augment=SimCLRAugmentConfig(crop_scale=(0.2, 1.0)))
SIMCLR_RECIPES = {r.name: r for r in (
    SimclrRecipe("simclr-smallcnn32", SIMCLR, 3, "the quick tier before this search, on 50,000 images"),
    SimclrRecipe("simclr-smallcnn32-crop20", replace(SIMCLR, augment=SimCLRAugmentConfig(crop_scale=(0.2, 1.0))), 3,
                 "DBD's crop scale"),
    SimclrRecipe("simclr-smallcnn32-bnhead", replace(SIMCLR, head_batch_norm=True), 3, "batch norm in the head"),
    SimclrRecipe("simclr-smallcnn32-t02", replace(SIMCLR, temperature=0.2), 3, "temperature 0.2"),
    SimclrRecipe("simclr-airnet16", replace(SIMCLR, arch="airnet", width=16), 3, "the classifier's network"),
    SimclrRecipe("simclr-airnet16-all", _ALL, 6,
                 "the four changes together"),
    SimclrRecipe("simclr-airnet16-jitter05", replace(_ALL, augment=replace(_ALL.augment, jitter=(0.4, 0.4, 0.4, 0.1))),
                 6, "colour jitter at strength 0.5, SimCLR's CIFAR-10 setting"),
    SimclrRecipe("simclr-airnet16-lr3e3", replace(_ALL, lr=3e-3), 6, "Adam at 3e-3"),
    SimclrRecipe("simclr-airnet16-b128", replace(_ALL, batch_size=128), 6, "batch 128: twice the steps per epoch"),
    SimclrRecipe("simclr-airnet24", replace(_ALL, width=24), 5, "a wider network"),
    SimclrRecipe("simclr-airnet16-jitter05-lr3e3", replace(_ALL, lr=3e-3, augment=replace(_ALL.augment, jitter=(
        0.4, 0.4, 0.4, 0.1))), 6, "jitter at strength 0.5 and Adam at 3e-3"),
)}


def measure_recipe(recipe: Recipe, epochs: int, rate: float = 0.01, data_root: str | None = None,
                   test_size: int | None = None, progress: bool = True) -> dict:
    """Train ``recipe`` for ``epochs`` on its data poisoned by BadNets at ``rate``; ACC, ASR and minutes."""
    data = load_dataset("cifar10", data_root).subset(recipe.n_train, test_size)
    poisoned = poison_dataset(data, PoisonConfig("badnets", rate=rate), progress=progress)
    config = replace(recipe.config, epochs=epochs)
    key = config_key("recipe", poisoned.data.identity(), poisoned.config.as_dict(), asdict(config))
    model, history = train_classifier(poisoned.data.x_train, poisoned.data.y_train, data.num_classes, config,
                                      checkpoint=cache_path("classifier", key, ".pt"), progress=progress)
    started = time.perf_counter()
    metrics = measure(model, poisoned)
    return {"recipe": recipe.name, "arch": f"{config.arch} w{config.width}", "n_train": recipe.n_train,
            "epochs": epochs, "train minutes": round(sum(history["epoch_time_s"]) / 60, 2),
            "eval seconds": round(time.perf_counter() - started, 1), "ACC %": round(100 * metrics.acc, 2),
            f"ASR BadNets {rate:g} %": round(100 * metrics.asr, 2), "n_poisoned": len(poisoned.truth.poison_indices),
            "note": recipe.note}


def simclr_curve(recipe: SimclrRecipe, data_root: str | None = None, progress: bool = True) -> list[dict]:
    """Train ``recipe`` on all 50,000 training images poisoned by BadNets at 10%, one epoch at a time; after each,
    the kNN accuracy on the clean test set and GSSD's detection with the quick profile's flows."""
    from gssd_utils.evaluation import evaluate_split, target_separation
    from gssd_utils.gssd.pipeline import defend_from_features
    from gssd_utils.gssd.simclr import extract_features, knn_accuracy, standardize, train_simclr

    data = load_dataset("cifar10", data_root)
    poisoned = poison_dataset(data, PoisonConfig("badnets", rate=0.1), progress=progress)
    x, y = poisoned.data.x_train, poisoned.data.y_train
    checkpoint = cache_path("simclr", config_key("recipe", poisoned.data.identity(), recipe.config.key()), ".pt")
    gssd = replace(get_profile("quick").gssd(), simclr=recipe.config)
    rows = []
    for epochs in range(1, recipe.epochs + 1):
        model, history = train_simclr(x, replace(recipe.config, epochs=epochs), checkpoint, progress=progress)
        train, test = extract_features(model.backbone, x), extract_features(model.backbone, data.x_test)
        (features,) = standardize(train)
        result = defend_from_features(features, y, data.num_classes, gssd,
                                      config_key(checkpoint.name, epochs), progress=progress)
        split = evaluate_split(result.split, result.stats, poisoned.truth, len(y))
        rows.append({"recipe": recipe.name, "arch": f"{recipe.config.arch} w{recipe.config.width}", "epochs": epochs,
                     "train minutes": round(sum(history["epoch_time_s"]) / 60, 2),
                     "kNN test accuracy %": round(100 * knn_accuracy(train, y, test, data.y_test), 2),
                     "target detected": split.target_detected,
                     "false-positive classes": len(split.false_positive_classes),
                     "suspect precision %": round(100 * split.suspect_precision, 2) if len(
                         result.split.suspect_indices) else None,
                     "AUROC log ratio": round(target_separation(result.loglik, y, poisoned.truth)["auroc_ratio"], 3),
                     "note": recipe.note})
    return rows


def recipe_throughput(names: Sequence[str], out: str | Path, batches: int = 20) -> pd.DataFrame:
    """Each classifier recipe's training rate on this machine (random images, the epoch after a warm-up one), so
    the minutes of a curve measured on a busy machine can be read at the quiet rate: epochs x images / rate."""
    from gssd_utils.experiments.bench import images_per_second

    provenance = Provenance(profile="quick", data={"name": "random images"})
    rows = []
    for name in names:
        recipe = RECIPES[name]
        with provenance.timed(name):
            rate = images_per_second(recipe.config, batches)
        rows.append({"recipe": name, "arch": f"{recipe.config.arch} w{recipe.config.width}",
                     "batch": recipe.config.batch_size, "train img/s": round(rate),
                     "minutes per epoch": round(recipe.n_train / rate / 60, 2), "n_train": recipe.n_train})
    table = pd.DataFrame(rows)
    write_results(table, provenance, out, "classifier_throughput", settings="measured on an otherwise idle machine")
    return table


def recipe_curves(names: Sequence[str], out: str | Path, rate: float = 0.01, data_root: str | None = None,
                  test_size: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Measure every budget of every named recipe, rewriting ``out/classifier_recipes.*`` (``simclr_recipes.*``
    for SimCLR recipes) after each point."""
    unknown = sorted(set(names) - set(RECIPES) - set(SIMCLR_RECIPES))
    if unknown:
        raise ValueError(f"unknown recipe {', '.join(unknown)}; choose from {', '.join([*RECIPES, *SIMCLR_RECIPES])}")
    provenance = Provenance(profile="quick", data=load_dataset("cifar10", data_root).identity())
    provenance.data["test images"] = test_size or "all"
    rows, simclr_rows = [], []
    for name in names:
        if name in SIMCLR_RECIPES:
            with provenance.timed(name):
                simclr_rows += simclr_curve(SIMCLR_RECIPES[name], data_root, progress)
            _merge(out, "simclr_recipes", simclr_rows, provenance,
                   "candidate SimCLR recipes of the quick tier on 50,000 images, BadNets at 10%")
            continue
        recipe = RECIPES[name]
        for epochs in recipe.epochs:
            with provenance.timed(f"{name} x{epochs}"):
                rows.append(measure_recipe(recipe, epochs, rate, data_root, test_size, progress))
            _merge(out, "classifier_recipes", rows, provenance,
                   "candidate recipes of the quick tier, BadNets (GSSD 2x2 patch) at 1%")
    return pd.DataFrame(rows + simclr_rows)


def _merge(out: str | Path, name: str, rows: list[dict], provenance: Provenance, settings: str) -> None:
    """Write ``rows`` into ``out/name``, keeping the points of other recipes measured before (with their own
    provenance, under ``details``); a point measured again replaces its old row."""
    from gssd_utils.results_io import load_results

    earlier = load_results(out, name)
    kept, history = [], []
    if earlier is not None:
        table, record = earlier
        new = {(row["recipe"], row["epochs"]) for row in rows}
        kept = [row for row in table.to_dict(orient="records") if (row["recipe"], row["epochs"]) not in new]
        history = runs_owning(kept, [*record.get("details", {}).get("earlier runs", []), record["provenance"]])
    write_results(pd.DataFrame(kept + rows), provenance, out, name, {"earlier runs": history}, settings=settings)


def runs_owning(rows: list[dict], runs: list[dict]) -> list[dict]:
    """The provenances among ``runs`` (oldest first) that measured one of ``rows``, so that the history never vouches
    for numbers no longer in the table. A point belongs to the newest run with a stage for it: ``recipe`` (a SimCLR
    curve, every epoch) or ``recipe xEPOCHS`` (one classifier budget). A row no staged run owns was measured by a
    run recorded without stages (files written before they were kept); such runs stay while any such row does."""
    def owner(row: dict) -> int | None:
        point = {row["recipe"], f"{row['recipe']} x{row['epochs']}"}
        return max((i for i, run in enumerate(runs) if point & set(run.get("stages", {}))), default=None)

    owners = {owner(row) for row in rows}
    return [run for i, run in enumerate(runs) if i in owners or ("stages" not in run and None in owners)]


def chosen_recipes(profile_name: str = "quick") -> tuple[str, str]:
    """The names of the classifier and SimCLR candidates the profile uses (matched by config, epochs aside)."""
    profile = get_profile(profile_name)
    classifier = next((name for name, r in RECIPES.items() if r.n_train == (profile.n_train or 50_000)
                       and replace(r.config, epochs=profile.classifier.epochs) == profile.classifier), "")
    simclr = next((name for name, r in SIMCLR_RECIPES.items()
                   if replace(r.config, epochs=profile.simclr.epochs) == profile.simclr), "")
    return classifier, simclr
