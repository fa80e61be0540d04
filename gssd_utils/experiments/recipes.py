"""The CPU tier's recipes, chosen by measurement on this machine.

- Classifier: ACC and the ASR of a 1% BadNets backdoor against minutes of training, for each candidate at a few
  budgets. A recipe is a ``TrainConfig`` and a training-set size; every point of a curve is its own training (a
  schedule depends on the run's length, so a shorter run is not the prefix of a longer one).
- SimCLR: GSSD's detection on the features (the target found, false positives, the target's margin, the AUROC of
  σ inside the target class, relabel accuracy) on BadNets and Blend at 10%, with the kNN accuracy beside, against
  minutes of training. SimCLR's learning rate is constant, so one run checkpointed per epoch gives the whole curve.
Everything is checkpointed in the cache and the results file is rewritten after each point, so an interrupted
search keeps what it measured.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from gssd_utils.attacks import PoisonConfig, poison_dataset
from gssd_utils.cache import cache_path, config_key
from gssd_utils.data import load_dataset
from gssd_utils.evaluation import attack_metrics
from gssd_utils.profiles import QUICK_CLASSIFIER, get_profile
from gssd_utils.provenance import Provenance
from gssd_utils.results_io import write_results
from gssd_utils.training.classifier import train_classifier
from gssd_utils.training.config import SimCLRAugmentConfig, SSLConfig, TrainConfig

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
    metrics = attack_metrics(model, poisoned)
    return {"recipe": recipe.name, "arch": f"{config.arch} w{config.width}", "n_train": recipe.n_train,
            "epochs": epochs, "train minutes": round(sum(history["epoch_time_s"]) / 60, 2),
            "eval seconds": round(time.perf_counter() - started, 1), "ACC %": round(100 * metrics.acc, 2),
            f"ASR BadNets {rate:g} %": round(100 * metrics.asr, 2), "n_poisoned": len(poisoned.truth.poison_indices),
            "note": recipe.note}


@dataclass(frozen=True)
class SimclrRecipe:
    name: str
    config: SSLConfig
    epochs: int  # measured after every epoch up to this one
    note: str = ""


# The SimCLR search is for detection (the kNN-accuracy search before it chose features on which detection got
# worse). Candidates change one thing of the recipe it chose; each is measured after every epoch on BadNets and
# Blend at 10% (the development attacks; every other attack is held out), with the quick profile's data, flows
# and calibrated detection rule. Rule for the choice, fixed before the search: among the points whose SimCLR and
# flows fit 6 minutes per poisoned set, those finding the target on both attacks with no false-positive class;
# of them the highest mean AUROC of σ inside the target class; ties to the fewer minutes.
_BASE = SSLConfig(arch="airnet", width=16, epochs=3, batch_size=256, lr=3e-3, head_batch_norm=True,
                     temperature=0.2, augment=SimCLRAugmentConfig(crop_scale=(0.2, 1.0), jitter=(0.4, 0.4, 0.4, 0.1)))
_OFFICIAL_AUGMENT = SimCLRAugmentConfig()  # the official GSSD code's: crops from 8%, jitter at strength 0.8
SIMCLR_RECIPES = {r.name: r for r in (
    SimclrRecipe("simclr-base", _BASE, 8, "the recipe the kNN search chose (airnet w16, tau 0.2, crops from 20%, "
                                          "jitter 0.5, Adam 3e-3, batch 256)"),
    SimclrRecipe("simclr-t05", replace(_BASE, temperature=0.5), 8, "temperature 0.5 (the official code's)"),
    SimclrRecipe("simclr-crop08", replace(_BASE, augment=replace(_BASE.augment, crop_scale=(0.08, 1.0))), 8,
                 "crops from 8% (the official code's)"),
    SimclrRecipe("simclr-jitter08", replace(_BASE, augment=replace(_BASE.augment, jitter=(0.8, 0.8, 0.8, 0.2))), 8,
                 "colour jitter at strength 0.8 (the official code's)"),
    SimclrRecipe("simclr-official-aug", replace(_BASE, temperature=0.5, augment=_OFFICIAL_AUGMENT), 8,
                 "the official code's augmentations and temperature on the quick network"),
    SimclrRecipe("simclr-lr1e3", replace(_BASE, lr=1e-3), 8, "Adam at 1e-3"),
    SimclrRecipe("simclr-b512", replace(_BASE, batch_size=512), 8, "batch 512: more negatives, half the steps"),
    SimclrRecipe("simclr-w24", replace(_BASE, width=24), 6, "a wider network (96-d features)"),
)}
SIMCLR_ATTACKS = ("badnets", "blend")
SIMCLR_BUDGET_MINUTES = 6.0


def simclr_curve(recipe: SimclrRecipe, data_root: str | None = None, progress: bool = True) -> list[dict]:
    """Train ``recipe`` one epoch at a time on the quick profile's training set poisoned by each development attack;
    after each epoch, GSSD's detection and split with the quick profile's flows and rule, scored against the truth,
    and the kNN accuracy of the features on the clean test set."""
    from gssd_utils.experiments.runs import AttackRun
    from gssd_utils.gssd.pipeline import defend_from_features
    from gssd_utils.ssl.features import extract_features, knn_accuracy, standardize
    from gssd_utils.ssl.train import train_ssl

    profile = replace(get_profile("quick"), ssl=recipe.config)
    gssd = profile.gssd()
    data = profile.load_data(data_root)
    rows = []
    for attack in SIMCLR_ATTACKS:
        run = AttackRun(profile, attack, data=data, progress=progress)
        x, y = run.x_train, run.y_train
        checkpoint = cache_path("ssl", config_key("recipe", run.key(), recipe.config.key()), ".pt")
        for epochs in range(1, recipe.epochs + 1):
            model, history = train_ssl(x, replace(recipe.config, epochs=epochs), checkpoint, progress=progress)
            started = time.perf_counter()
            train = extract_features(model.backbone, x)
            (features,) = standardize(train)
            result = defend_from_features(features, y, data.num_classes, gssd,
                                          config_key(checkpoint.name, epochs), progress=progress)
            seconds = time.perf_counter() - started
            rows.append({"recipe": recipe.name, "attack": attack, "epochs": epochs,
                         "SimCLR minutes": round(sum(history["epoch_time_s"]) / 60, 2),
                         "features + flows minutes": round(seconds / 60, 2),
                         **detection_quality(result, run),
                         "kNN test accuracy %": round(100 * knn_accuracy(
                             train, y, extract_features(model.backbone, run.poisoned.data.x_test),
                             run.poisoned.data.y_test), 2),
                         "note": recipe.note})
    return rows


def detection_quality(result, run) -> dict:
    """How well GSSD's detection and split did on ``run`` (its ``DefenseResult``), against the truth: the target
    found, the false-positive classes, the target's margin over the next class on the non-disruptive score, the
    valley's p-value, the AUROC of σ inside the target class (σ of the kind the rule gave it, the non-disruptive
    one if it gave none), the split's precision and the relabel accuracy of the non-disruptive split."""
    from sklearn.metrics import roc_auc_score

    from gssd_utils.evaluation import evaluate_split
    from gssd_utils.gssd.detection import DISRUPTIVE, NON_DISRUPTIVE
    from gssd_utils.gssd.splitting import split_and_relabel

    stats, target, labels = result.stats, run.target, run.y_train
    quality = evaluate_split(result.split, stats, run.truth, len(labels))
    members = labels == target
    poisoned = run.is_poisoned()[members]
    sign = 1.0 if stats.kind[target] == DISRUPTIVE else -1.0
    others = np.delete(stats.nd_score, target)
    # the split and relabels the target would get as a non-disruptive class, found or not
    forced = replace(stats, kind=[NON_DISRUPTIVE if c == target else None for c in range(len(stats.kind))])
    relabel = evaluate_split(split_and_relabel(result.loglik, labels, forced, run.profile.split), forced, run.truth,
                             len(labels)).relabel_accuracy
    return {"target detected": quality.target_detected, "kind": stats.kind[target] or "not flagged",
            "false-positive classes": len(quality.false_positive_classes),
            "ND margin": round(float(stats.nd_score[target] - others.max()), 2),
            "valley p target": float(stats.d_pvalue[target]) if stats.d_pvalue is not None else None,
            "AUROC sigma": round(float(roc_auc_score(poisoned, sign * result.split.log_ratio[members])), 3),
            "suspect precision %": round(100 * quality.suspect_precision, 2) if quality.target_detected else None,
            "poisons left in D_C": quality.poisons_in_clean,
            "relabel acc % (as non-disruptive)": None if relabel is None else round(100 * relabel, 2)}


def chosen_simclr_point(table: pd.DataFrame) -> tuple[str, int] | None:
    """The (recipe, epochs) the search's rule picks from its table (see ``SIMCLR_RECIPES``); None when no point
    within the budget finds both targets without a false positive."""
    table = table.assign(minutes=table["SimCLR minutes"] + table["features + flows minutes"])
    points = []
    for (recipe, epochs), rows in table.groupby(["recipe", "epochs"], sort=False):
        if len(rows) < len(SIMCLR_ATTACKS) or rows["minutes"].max() > SIMCLR_BUDGET_MINUTES:
            continue
        if rows["target detected"].all() and (rows["false-positive classes"] == 0).all():
            points.append((-rows["AUROC sigma"].mean(), rows["minutes"].max(), recipe, int(epochs)))
    return min(points)[2:] if points else None


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
                   "candidate SimCLR recipes of the quick tier for detection: the quick profile's data, flows and "
                   "detection rule, BadNets and Blend at 10%")
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
        def point(row: dict) -> tuple:
            return row["recipe"], row.get("attack"), row["epochs"]

        new = {point(row) for row in rows}
        kept = [row for row in table.to_dict(orient="records") if point(row) not in new]
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
                   if replace(r.config, epochs=profile.ssl.epochs) == profile.ssl), "")
    return classifier, simclr
