"""The paper's ablations (§5.3): fine-tuning (Table 4), the feature extractor (Table 3), the poisoning rate
(Table 2) and the hyperparameters of detection and splitting.

Each reuses the cached stages of ``experiments.defend_attack``; only what the ablation changes is recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace

import numpy as np
import pandas as pd

from gssd_utils import paper_reference
from gssd_utils.attacks import PoisonTruth
from gssd_utils.cache import array_digest, config_key
from gssd_utils.experiments import AttackRun, percent, run_gssd_table, summary_row
from gssd_utils.gssd.detection import DetectionConfig, detect_target_classes
from gssd_utils.gssd.evaluation import evaluate_split
from gssd_utils.gssd.pipeline import GSSDConfig, cached_classifier, defend_from_features, retrain_and_finetune
from gssd_utils.gssd.simclr import extract_features, standardize
from gssd_utils.gssd.splitting import SplitConfig, split_and_relabel
from gssd_utils.no_defense import poisoned_classifier
from gssd_utils.profiles import Profile
from gssd_utils.training import accuracy, attack_success_rate

TABLE4_ROWS = (
    ("Original (D)", False),
    ("Original (D)", True),
    ("Cleansed (D_C)", False),
    ("Cleansed (D_C ∪ D'_P)", False),
    ("Cleansed (D_C)", True),
)


def finetune_ablation(profile: Profile, run: AttackRun, progress: bool = True) -> pd.DataFrame:
    """Table 4 for one attack: which training data, with or without fine-tuning on the relabeled D̂'_P."""
    poisoned, split, config = run.poisoned, run.result.split, profile.gssd()
    x, y, num_classes = poisoned.data.x_train, poisoned.data.y_train, poisoned.data.num_classes
    data_key = array_digest(x, y)
    relabel_key = array_digest(split.relabeled_indices, split.relabels)
    original, _ = poisoned_classifier(poisoned, profile, progress)
    models = {TABLE4_ROWS[0]: original, TABLE4_ROWS[2]: run.result.retrained, TABLE4_ROWS[4]: run.result.finetuned}
    if len(split.relabeled_indices):
        finetune = config.finetune_config()
        models[TABLE4_ROWS[1]] = cached_classifier(
            x[split.relabeled_indices], split.relabels, num_classes, finetune,
            config_key(data_key, "original + fine-tune", relabel_key, asdict(finetune)), init=original,
            progress=progress)
        union = np.concatenate([split.clean_indices, split.relabeled_indices])
        models[TABLE4_ROWS[3]] = cached_classifier(
            x[union], np.concatenate([y[split.clean_indices], split.relabels]), num_classes, config.retrain,
            config_key(data_key, "clean + relabeled", array_digest(split.clean_indices), relabel_key,
                       asdict(config.retrain)), progress=progress)
    rows = []
    for data_name, finetuned in TABLE4_ROWS:
        model = models.get((data_name, finetuned))
        paper = paper_reference.TABLE4.get((data_name, finetuned), {}).get(poisoned.config.attack, (None, None))
        rows.append({
            "training data": data_name, "fine-tuning": "yes" if finetuned else "no",
            "ACC ours": None if model is None else percent(accuracy(model, poisoned.data.x_test, poisoned.data.y_test)),
            "ASR ours": None if model is None else percent(
                attack_success_rate(model, poisoned.x_test_triggered, poisoned.config.target)),
            "ACC paper": paper[0], "ASR paper": paper[1],
            "note": "" if model is not None else "nothing relabeled: D'_P is empty",
        })
    table = pd.DataFrame(rows)
    table.insert(0, "attack", poisoned.config.attack)
    return table


def supervised_features_run(profile: Profile, run: AttackRun, progress: bool = True) -> dict:
    """Table 3's supervised row: GSSD on the penultimate features of the classifier trained on the poisoned set.

    Everything after the features (flows, detection, split, retraining) is as in the SimCLR run.
    """
    poisoned = run.poisoned
    x, y = poisoned.data.x_train, poisoned.data.y_train
    model, _ = poisoned_classifier(poisoned, profile, progress)
    (features,) = standardize(extract_features(model, x))
    config = profile.gssd()
    result = defend_from_features(features, y, poisoned.data.num_classes, config,
                                  "supervised-" + array_digest(features), progress)
    result = retrain_and_finetune(result, x, y, poisoned.data.num_classes, config, progress)
    evaluation = evaluate_split(result.split, result.stats, poisoned.truth, len(y))
    metrics = {}
    for stage, trained in (("retrained", result.retrained), ("finetuned", result.finetuned)):
        if trained is not None:
            metrics[f"acc {stage}"] = accuracy(trained, poisoned.data.x_test, poisoned.data.y_test)
            metrics[f"asr {stage}"] = attack_success_rate(trained, poisoned.x_test_triggered, poisoned.config.target)
    return summary_row(AttackRun(poisoned=poisoned, result=result, evaluation=evaluation, metrics=metrics))


SWEEPABLE = {"beta_nd": "detection", "beta_d": "detection", "lam": "detection", "alpha_c": "split",
             "alpha_p": "split"}


def hyperparameter_sweep(loglik: np.ndarray, labels: np.ndarray, truth: PoisonTruth, config: GSSDConfig,
                         parameter: str, values: Sequence[float]) -> pd.DataFrame:
    """Detection and split quality as one hyperparameter varies, the others at ``config``'s values.

    Works on a cached likelihood matrix, so a sweep costs seconds: no retraining (the paper's robustness
    figures also vary only detection and splitting).
    """
    if parameter not in SWEEPABLE:
        raise ValueError(f"unknown hyperparameter {parameter!r}; sweepable: {', '.join(SWEEPABLE)}")
    rows = []
    for value in values:
        detection, split_config = config.detection, config.split
        if SWEEPABLE[parameter] == "detection":
            detection = replace(detection, **{parameter: value})
        else:
            split_config = replace(split_config, **{parameter: value})
        stats = detect_target_classes(loglik, labels, detection)
        split = split_and_relabel(loglik, labels, stats, split_config)
        ev = evaluate_split(split, stats, truth, len(labels))
        rows.append({parameter: value, "target detected": ev["target_detected"],
                     "false positives": len(ev["false_positive_classes"]),
                     "suspect precision %": percent(ev["suspect_precision"]),
                     "suspect recall %": percent(ev["suspect_recall"]),
                     "poisons left in D_C": ev["poisoned_left_in_clean"],
                     "relabel acc %": percent(ev.get("relabel_accuracy_on_poisons"))})
    return pd.DataFrame(rows)


DEFAULT_SWEEPS = {
    "alpha_c": (0.1, 0.2, 0.3, 0.4, 0.5),
    "alpha_p": (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5),
    "beta_nd": (0.3, 0.45, 0.6, 0.75, 0.9, 1.2, 1.5),
    "beta_d": (0.01, 0.03, 0.05, 0.1, 0.2),
    "lam": (0.25, 0.5, 0.75, 1.0),
}
DEFAULTS = {**asdict(DetectionConfig()), **asdict(SplitConfig())}


def rate_table(profile: Profile, attacks: Sequence[str], rates: Sequence[float], target: int = 0,
               seed: int = 0) -> tuple[pd.DataFrame, dict[str, float]]:
    """Table 2: no defense and GSSD per (rate, attack), the paper's numbers beside; and the wall times."""
    parts, times = [], {}
    for rate in rates:
        part, provenance, _ = run_gssd_table(profile, attacks, rate, target, seed)
        parts.append(part)
        times.update({f"rate {rate}: {stage}": s for stage, s in provenance.wall_time_s.items()})
    table = pd.concat(parts, ignore_index=True)
    for who in ("no defense", "gssd"):
        for i, metric in enumerate(("ACC", "ASR")):
            table[f"{metric} {who} paper"] = [
                paper_reference.TABLE2.get(round(rate, 2), {}).get(attack, {}).get(who, (None, None))[i]
                for rate, attack in zip(table["rate"], table["attack"], strict=True)]
    columns = ["rate", "attack", "n_poisoned", "target detected", "ACC no defense", "ASR no defense", "ACC GSSD",
               "ASR GSSD", "ACC no defense paper", "ASR no defense paper", "ACC gssd paper", "ASR gssd paper"]
    return table[columns], times


def feature_extractor_table(profile: Profile, runs: Mapping[str, AttackRun], progress: bool = True) -> pd.DataFrame:
    """Table 3: GSSD with supervised vs SimCLR features; CLIP listed with the paper's numbers only."""
    rows = []
    for attack, run in runs.items():
        measured = {"RN-18 supervised": supervised_features_run(profile, run, progress),
                    "RN-18 self-sup (SimCLR)": summary_row(run), "RN-50 CLIP": None}
        for extractor, row in measured.items():
            paper = paper_reference.TABLE3[extractor].get(attack, (None, None))
            rows.append({"attack": attack, "feature extractor": extractor,
                         "target detected": None if row is None else row["target detected"],
                         "ACC ours": None if row is None else row["ACC GSSD"],
                         "ASR ours": None if row is None else row["ASR GSSD"],
                         "ACC paper": paper[0], "ASR paper": paper[1],
                         "note": "not run: CLIP weights cannot be downloaded here" if row is None else ""})
    return pd.DataFrame(rows)
