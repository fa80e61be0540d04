"""GSSD against the kNN/energy cleansing of Wang et al. on the same SimCLR features and the same retraining.

Both are scored the same way: which samples each removes (precision and recall against the poisons), how
many poisons stay with the target label, how well relabels recover the source class, and ACC/ASR of a
classifier trained on what each keeps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict

import numpy as np
import pandas as pd

from gssd_utils import paper_reference
from gssd_utils.baselines.knn_energy import Cleansing, KnnEnergyConfig, cleanse
from gssd_utils.cache import array_digest, config_key
from gssd_utils.experiments import AttackRun, percent
from gssd_utils.gssd.pipeline import cached_classifier
from gssd_utils.profiles import Profile
from gssd_utils.training import accuracy, attack_success_rate


def evaluate_cleansing(cleansing: Cleansing, run: AttackRun) -> dict:
    """Ground-truth scores of a kNN/energy cleansing (the defense never saw the truth)."""
    truth = run.poisoned.truth
    n = len(run.poisoned.data.y_train)
    poisoned = truth.is_poisoned(n)
    removed = np.setdiff1d(np.arange(n), cleansing.accepted_indices)  # rejected or relabeled
    caught = int(poisoned[removed].sum())
    original = np.full(n, -1)
    original[truth.poison_indices] = truth.original_labels
    relabeled_poisons = poisoned[cleansing.relabeled_indices]
    hits = original[cleansing.relabeled_indices] == cleansing.relabels
    return {
        "flagged precision %": percent(caught / len(removed) if len(removed) else float("nan")),
        "flagged recall %": percent(caught / max(int(poisoned.sum()), 1)),
        "poisons kept with their poisoned label": int(poisoned[cleansing.accepted_indices].sum()),
        "relabeled": len(cleansing.relabeled_indices),
        "relabel acc %": percent(hits[relabeled_poisons].mean() if relabeled_poisons.any() else float("nan")),
        "clean kept %": percent(float(np.isin(np.flatnonzero(~poisoned), cleansing.kept_indices).mean())),
    }


def knn_energy_run(profile: Profile, run: AttackRun, method: str, progress: bool = True) -> dict:
    """Cleanse with ``method`` on ``run``'s SimCLR features, retrain on what it keeps, measure."""
    poisoned = run.poisoned
    x, y = poisoned.data.x_train, poisoned.data.y_train
    cleansing = cleanse(run.result.features, y, KnnEnergyConfig(method=method, temperature=profile.simclr.temperature))
    kept, labels = cleansing.kept_indices, cleansing.kept_labels(y)
    config = profile.classifier
    model = cached_classifier(x[kept], labels, poisoned.data.num_classes, config,
                              config_key(array_digest(x, y), method, array_digest(kept, labels), asdict(config)),
                              progress=progress)
    return {
        "attack": poisoned.config.attack, "method": method, **evaluate_cleansing(cleansing, run),
        "ACC": percent(accuracy(model, poisoned.data.x_test, poisoned.data.y_test)),
        "ASR": percent(attack_success_rate(model, poisoned.x_test_triggered, poisoned.config.target)),
    }


def gssd_as_cleansing_row(run: AttackRun) -> dict:
    """GSSD's run in the comparison's columns: what it removes from training is everything outside D̂_C."""
    n = len(run.poisoned.data.y_train)
    poisoned = run.poisoned.truth.is_poisoned(n)
    split, ev = run.result.split, run.evaluation
    removed = np.setdiff1d(np.arange(n), split.clean_indices)
    caught = int(poisoned[removed].sum())
    final = "finetuned" if "acc finetuned" in run.metrics else "retrained"
    return {
        "attack": run.poisoned.config.attack, "method": "gssd",
        "flagged precision %": percent(caught / len(removed) if len(removed) else float("nan")),
        "flagged recall %": percent(caught / max(int(poisoned.sum()), 1)),
        "poisons kept with their poisoned label": ev["poisoned_left_in_clean"],
        "relabeled": len(split.relabeled_indices),
        "relabel acc %": percent(ev.get("relabel_accuracy_on_poisons")),
        "clean kept %": percent(float(np.isin(np.flatnonzero(~poisoned), split.clean_indices).mean())),
        "ACC": percent(run.metrics.get(f"acc {final}")),
        "ASR": percent(run.metrics.get(f"asr {final}")),
    }


def comparison_table(profile: Profile, runs: Mapping[str, AttackRun], methods: Sequence[str] = ("knn", "energy"),
                     progress: bool = True) -> pd.DataFrame:
    """GSSD and each cleansing method per attack, with the published ACC/ASR (Wang et al. Tab. 2, GSSD Tab. 1)."""
    published = {**paper_reference.WANG_TABLE2, "gssd": paper_reference.GSSD_DEFENDED}
    rows = []
    for run in runs.values():
        rows.append(gssd_as_cleansing_row(run))
        rows.extend(knn_energy_run(profile, run, method, progress) for method in methods)
    for row in rows:
        row["ACC paper"], row["ASR paper"] = published[row["method"]].get(row["attack"], (None, None))
    return pd.DataFrame(rows)
