"""GSSD on the book's attacks: poison, defend, measure against the ground truth, compare with no defense.

The defense itself (``gssd.pipeline``) sees only the poisoned set; this module is the experimenter's side,
which knows the attack and so can score the split (App. L) and the final model's ASR. Every stage is cached,
so the notebooks that show SimCLR, the flows, detection and splitting all reuse one run per attack.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gssd_utils import paper_reference
from gssd_utils.attacks import PoisonedDataset, poison_dataset
from gssd_utils.data import ImageDataset
from gssd_utils.gssd.evaluation import evaluate_split, target_separation
from gssd_utils.gssd.pipeline import DefenseResult, GSSDConfig, run_gssd
from gssd_utils.gssd.report import defense_report
from gssd_utils.no_defense import data_identity, load_profile_data, train_on_poisoned
from gssd_utils.profiles import Profile
from gssd_utils.provenance import Provenance
from gssd_utils.training import accuracy, attack_success_rate


@dataclass
class AttackRun:
    """One attack defended at one profile: the poisoned set, the defense's result and its measurements."""

    poisoned: PoisonedDataset
    result: DefenseResult
    evaluation: dict  # ground-truth metrics of the split (never seen by the defense)
    metrics: dict  # ACC/ASR of the retrained and fine-tuned classifiers
    poison_s: float = 0.0  # poisoning, including what a learned attack had to train (0 when cached)


def defend_attack(profile: Profile, attack: str, data: ImageDataset | None = None, rate: float | None = None,
                  target: int = 0, seed: int = 0, config: GSSDConfig | None = None, train: bool = True,
                  progress: bool = True) -> AttackRun:
    """Poison ``data`` (default: the profile's) with ``attack`` and run the whole defense on it."""
    data = data if data is not None else load_profile_data(profile)
    started = time.perf_counter()
    poisoned = poison_dataset(data, profile.poison_config(attack, rate, target, seed), progress)
    poison_s = round(time.perf_counter() - started, 2)
    config = config or profile.gssd()
    train_set = poisoned.data
    result = run_gssd(train_set.x_train, train_set.y_train, train_set.num_classes, config, train=train,
                      progress=progress)
    evaluation = evaluate_split(result.split, result.stats, poisoned.truth, len(train_set.y_train))
    metrics = {}
    for stage, model in (("retrained", result.retrained), ("finetuned", result.finetuned)):
        if model is not None:
            metrics[f"acc {stage}"] = accuracy(model, train_set.x_test, train_set.y_test)
            metrics[f"asr {stage}"] = attack_success_rate(model, poisoned.x_test_triggered, target)
    return AttackRun(poisoned=poisoned, result=result, evaluation=evaluation, metrics=metrics, poison_s=poison_s)


def percent(value: float | None) -> float | None:
    """A fraction as a percentage with two decimals; None for a missing or undefined value."""
    return None if value is None or np.isnan(value) else round(100 * value, 2)


def summary_row(run: AttackRun) -> dict:
    """Detection, split quality and ACC/ASR of one run, for the book's tables."""
    ev, target = run.evaluation, run.poisoned.config.target
    final = "finetuned" if "acc finetuned" in run.metrics else "retrained"
    return {
        "attack": run.poisoned.config.attack,
        "rate": run.poisoned.config.resolved_rate(),
        "n_poisoned": ev["n_poisoned"],
        "target detected": ev["target_detected"],
        "kind": run.result.stats.kind[target],
        "false-positive classes": ",".join(map(str, ev["false_positive_classes"])) or "none",
        "suspect precision %": percent(ev["suspect_precision"]),
        "suspect recall %": percent(ev["suspect_recall"]),
        "poisons left in D_C": ev["poisoned_left_in_clean"],
        "relabel acc %": percent(ev.get("relabel_accuracy_on_poisons")),
        "ACC GSSD": percent(run.metrics.get(f"acc {final}")),
        "ASR GSSD": percent(run.metrics.get(f"asr {final}")),
    }


def run_gssd_table(profile: Profile, attacks: Sequence[str], rate: float | None = None, target: int = 0,
                   seed: int = 0, progress: bool = True) -> tuple[pd.DataFrame, Provenance, dict]:
    """Table 1 at this profile: per attack, no defense vs GSSD, detection and split quality, stage times.

    Returns the table, its provenance and per-attack details (the defense's report plus the evaluation).
    """
    provenance = Provenance(profile=profile.name, data={})
    with provenance.timed("load data"):
        data = load_profile_data(profile)
    provenance.data = data_identity(data)
    rows, details = [], {}
    for attack in attacks:
        with provenance.timed(f"{attack}: gssd"):
            run = defend_attack(profile, attack, data, rate, target, seed, progress=progress)
        with provenance.timed(f"{attack}: no defense"):
            baseline = train_on_poisoned(run.poisoned, profile, progress)
        paper_acc, paper_asr = paper_reference.at_paper_rate(paper_reference.GSSD_DEFENDED, attack,
                                                             run.poisoned.config.resolved_rate())
        rows.append({
            **summary_row(run),
            "ACC no defense": percent(baseline["acc"]),
            "ASR no defense": percent(baseline["asr"]),
            "ACC D_C only": percent(run.metrics.get("acc retrained")),
            "ASR D_C only": percent(run.metrics.get("asr retrained")),
            "ACC GSSD paper": paper_acc,
            "ASR GSSD paper": paper_asr,
            "poison (s)": run.poison_s,
            **{f"{stage} (s)": seconds for stage, seconds in run.result.wall_time_s.items()},
        })
        details[attack] = {"report": defense_report(run.result, run.poisoned.data.y_train),
                           "evaluation": run.evaluation, "metrics": run.metrics,
                           "poison": run.poisoned.data.info["poisoning"]}  # config, counts, trigger diagnostics
    table = pd.DataFrame(rows)
    table.attrs["profile"] = profile.describe()
    return table, provenance, details


def detection_row(run: AttackRun) -> dict:
    """The detection statistics of the true target against the most extreme other class."""
    stats, target = run.result.stats, run.poisoned.config.target
    others = np.delete(np.arange(len(stats.kind)), target)
    return {
        "attack": run.poisoned.config.attack,
        "flagged classes": ",".join(map(str, stats.flagged)) or "none",
        "target kind": stats.kind[target] or "not flagged",
        "S_ND target": round(float(stats.s_nd[target]), 3),
        "S_ND max other": round(float(stats.s_nd[others].max()), 3),
        "S_D target": round(float(stats.s_d[target]), 3),
        "S_D max other": round(float(stats.s_d[others].max()), 3),
        "target detected": run.evaluation["target_detected"],
        **{name: round(value, 3) for name, value in target_separation(
            run.result.loglik, run.poisoned.data.y_train, run.poisoned.truth).items()},
    }


def split_row(run: AttackRun) -> dict:
    """Split sizes and their quality against the ground truth (App. L)."""
    split, ev = run.result.split, run.evaluation
    return {
        "attack": run.poisoned.config.attack,
        "|D_C|": len(split.clean_indices), "|D_U|": len(split.uncertain_indices),
        "|D_P|": len(split.suspect_indices), "relabeled": len(split.relabeled_indices),
        "poisons": ev["n_poisoned"],
        "D_P precision %": percent(ev["suspect_precision"]), "D_P recall %": percent(ev["suspect_recall"]),
        "poisoned share of D_C %": percent(ev["clean_poisoned_share"]),
        "relabel acc %": percent(ev.get("relabel_accuracy_on_poisons")),
    }


def target_scores(run: AttackRun) -> tuple[np.ndarray, np.ndarray, float, float]:
    """σ of the target class's samples, their poisoned mask, and the σ cut-offs of D̂_P and D̂_C (Fig. 3)."""
    target, split = run.poisoned.config.target, run.result.split
    labels = run.poisoned.data.y_train
    members = np.flatnonzero(labels == target)
    poisoned = run.poisoned.truth.is_poisoned(len(labels))[members]
    sigma = split.scores[members] if target in run.result.stats.flagged else split.log_ratio[members] * -1
    suspects = np.intersect1d(split.suspect_indices, members)
    kept = np.intersect1d(split.clean_indices, members)
    cut_p = float(split.scores[suspects].min()) if len(suspects) else float("nan")
    cut_c = float(split.scores[kept].max()) if len(kept) and len(suspects) else float("nan")
    return sigma, poisoned, cut_p, cut_c
