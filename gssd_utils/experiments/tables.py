"""The book's tables, built from typed run results: column names exist only here.

Every percentage is ours unless its column says *paper*; ``None`` marks a number that does not exist (a paper
number at another poisoning rate, a precision of an empty set).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from gssd_utils import paper_reference
from gssd_utils.defenses.registry import get_defense_class
from gssd_utils.evaluation import evaluate_split, target_separation
from gssd_utils.experiments.runs import AttackRun, RunResult
from gssd_utils.profiles import TABLE1_DEFENSES
from gssd_utils.provenance import COMPUTED, StageTime


def pct(value: float | None) -> float | None:
    """A fraction as a percentage with two decimals; None for a missing or undefined value."""
    return None if value is None or np.isnan(value) else round(100 * value, 2)


def stage_columns(stages: Mapping[str, StageTime]) -> dict:
    """Each stage's cost (its original compute time when the cache served it), and which stages were cache hits."""
    columns = {f"{name} (s)": round(stage.compute_s, 1) for name, stage in stages.items()}
    columns["from cache"] = ", ".join(n for n, s in stages.items() if s.cache != COMPUTED) or "none"
    return columns


def no_defense_row(run: AttackRun) -> dict:
    """ACC/ASR of the classifier trained on the poisoned set, beside the paper's at the paper's rate."""
    result = run.result("none")
    acc, asr, source = paper_reference.published("none", run.attack, run.rate, run.profile.dataset)
    train = result.stages["train"]
    epochs = run.profile.classifier.epochs
    return {
        "attack": run.attack, "rate": run.rate, "n_poisoned": result.n_poisoned,
        "ACC ours": pct(result.metrics.acc), "ASR ours": pct(result.metrics.asr),
        "ACC paper": acc, "ASR paper": asr, "paper source": source or "—",
        "train time (s)": round(train.compute_s, 1),
        "train img/s": round(len(run.y_train) * epochs / max(train.compute_s, 1e-9)),
        "from cache": train.cache != COMPUTED,
    }


def gssd_row(run: AttackRun) -> dict:
    """Table 1 for GSSD: detection, split quality against the truth, ACC/ASR of each step, stage costs."""
    gssd, none = run.result("gssd"), run.result("none")
    state = run.gssd(train=True)
    split = gssd.split
    retrained = run.measure(state.retrained, state.keys["retrain"])
    acc, asr, _ = paper_reference.published("gssd", run.attack, run.rate, run.profile.dataset)
    return {
        "attack": run.attack, "rate": run.rate, "n_poisoned": gssd.n_poisoned, "rule": state.stats.rule,
        "target detected": split.target_detected, "kind": state.stats.kind[run.target],
        "false-positive classes": ",".join(map(str, split.false_positive_classes)) or "none",
        "suspect precision %": pct(split.suspect_precision), "suspect recall %": pct(split.suspect_recall),
        "poisons left in D_C": split.poisons_in_clean, "relabel acc %": pct(split.relabel_accuracy),
        "ACC GSSD": pct(gssd.metrics.acc), "ASR GSSD": pct(gssd.metrics.asr),
        "ACC no defense": pct(none.metrics.acc), "ASR no defense": pct(none.metrics.asr),
        "ACC D_C only": pct(retrained.acc), "ASR D_C only": pct(retrained.asr),
        "ACC GSSD paper": acc, "ASR GSSD paper": asr,
        "poison (s)": round(run.poison_stage.compute_s, 1), **stage_columns(gssd.stages),
    }


def gssd_details(run: AttackRun) -> dict:
    """What does not fit a row: the defense's own report, the evaluation, the poisoning's diagnostics."""
    gssd = run.result("gssd")
    return {"report": gssd.details, "evaluation": gssd.evaluation.as_dict(), "split": gssd.split.as_dict(),
            "metrics": gssd.metrics.as_dict(), "poison": run.poisoned.data.info["poisoning"]}


def detection_row(run: AttackRun) -> dict:
    """The detection statistics of the true target against the most extreme other class, under the rule that ran;
    S_ND (Eq. 2) and its rank among the classes under either rule."""
    state = run.gssd()
    stats, target = state.stats, run.target
    others = np.delete(np.arange(len(stats.kind)), target)
    poisons = int(run.is_poisoned()[run.y_train == target].sum())
    separation = (target_separation(state.loglik, run.y_train, run.truth) if 0 < poisons < np.sum(run.y_train == target)
                  else {})
    row = {
        "attack": run.attack, "rule": stats.rule, "flagged classes": ",".join(map(str, stats.flagged)) or "none",
        "target kind": stats.kind[target] or "not flagged",
        "S_ND target": round(float(stats.s_nd[target]), 3), "S_ND max other": round(float(stats.s_nd[others].max()), 3),
        "S_ND rank of target": int(np.sum(stats.s_nd > stats.s_nd[target])) + 1,
        "ND score target": round(float(stats.nd_score[target]), 3),
        "ND score max other": round(float(stats.nd_score[others].max()), 3),
        "ND threshold": round(stats.nd_threshold, 3),
        "S_D target": round(float(stats.s_d[target]), 3), "S_D max other": round(float(stats.s_d[others].max()), 3),
        "target detected": target in stats.flagged, "n poisons in target": poisons,
    }
    if stats.d_pvalue is not None:
        row["valley p target"] = float(stats.d_pvalue[target])
        row["valley p min other"] = float(stats.d_pvalue[others].min())
    names = {"auroc_own": "AUROC own density", "auroc_foreign": "AUROC max foreign density",
             "auroc_ratio": "AUROC log ratio"}
    return {**row, **{name: round(separation[key], 3) if key in separation else None for key, name in names.items()}}


def split_row(run: AttackRun) -> dict:
    """Split sizes and their quality against the ground truth (App. L)."""
    state = run.gssd()
    split = state.split
    quality = evaluate_split(split, state.stats, run.truth, len(run.y_train))
    return {
        "attack": run.attack, "|D_C|": len(split.clean_indices), "|D_U|": len(split.uncertain_indices),
        "|D_P|": len(split.suspect_indices), "relabeled": len(split.relabeled_indices),
        "poisons": int(run.is_poisoned().sum()),
        "D_P precision %": pct(quality.suspect_precision), "D_P recall %": pct(quality.suspect_recall),
        "poisoned share of D_C %": pct(quality.clean_poisoned_share),
        "relabel acc %": pct(quality.relabel_accuracy),
    }


def target_scores(run: AttackRun) -> tuple[np.ndarray, np.ndarray, float, float]:
    """σ of the target class's samples, their poisoned mask, and the σ cut-offs of D̂_P and D̂_C (Fig. 3)."""
    state = run.gssd()
    split, target = state.split, run.target
    members = np.flatnonzero(run.y_train == target)
    poisoned = run.is_poisoned()[members]
    sigma = split.scores[members] if target in state.stats.flagged else -split.log_ratio[members]
    suspects = np.intersect1d(split.suspect_indices, members)
    kept = np.intersect1d(split.clean_indices, members)
    cut_p = float(split.scores[suspects].min()) if len(suspects) else float("nan")
    cut_c = float(split.scores[kept].max()) if len(kept) and len(suspects) else float("nan")
    return sigma, poisoned, cut_p, cut_c


def cleansing_row(result: RunResult) -> dict:
    """What a defense set aside, against the truth (the kNN/energy chapter's columns), and its ACC/ASR."""
    ev = result.evaluation
    return {
        "attack": result.attack, "method": result.defense,
        "flagged precision %": pct(ev.removed_precision), "flagged recall %": pct(ev.removed_recall),
        "poisons kept with their poisoned label": ev.poisons_kept, "relabeled": ev.relabeled,
        "relabel acc %": pct(ev.relabel_accuracy), "clean kept %": pct(ev.clean_kept),
        "ACC": pct(result.metrics.acc), "ASR": pct(result.metrics.asr),
    }


def cleansing_table(runs: Iterable[AttackRun], methods: Sequence[str] = ("gssd", "knn", "energy")) -> pd.DataFrame:
    """GSSD and each cleansing method per attack, with the published ACC/ASR where a paper ran the same attack at
    the same rate (Wang et al. Tab. 2, GSSD Tab. 1)."""
    rows = []
    for run in runs:
        for method in methods:
            row = cleansing_row(run.result(method))
            row["ACC paper"], row["ASR paper"], row["paper source"] = paper_reference.published(
                method, run.attack, run.rate, run.profile.dataset)
            rows.append(row)
    return pd.DataFrame(rows)


def defense_effectiveness(acc: float, asr: float, acc_none: float, asr_none: float) -> float:
    """BackdoorBench's DER in [0, 1]: (max(0, ΔASR) − max(0, ΔACC) + 1) / 2 against no defense, so 0.5 is a
    defense that changes nothing and 1 one that removes the whole backdoor at no accuracy cost."""
    return (max(0.0, asr_none - asr) - max(0.0, acc_none - acc) + 1) / 2


def comparison_rows(run: AttackRun, defenses: Sequence[str]) -> list[dict]:
    """Table 1 for one attack: every defense's ACC/ASR beside the paper's, what it set aside, and its cost.

    Beside ACC/ASR, the field's measures: the share of the poisons set aside (TPR, the elimination rate), of the
    clean samples set aside (FPR, the sacrifice rate) and DER against this run's no defense (when the table has
    that row: DER never trains a model of its own).
    """
    none = run.result("none").metrics if "none" in defenses else None
    rows = []
    for defense in defenses:
        result = run.result(defense)
        acc, asr, source = paper_reference.published(defense, run.attack, run.rate, run.profile.dataset)
        ev = result.evaluation
        rows.append({
            "attack": run.attack, "rate": run.rate, "defense": get_defense_class(defense).display,
            "ACC": pct(result.metrics.acc), "ASR": pct(result.metrics.asr),
            "ACC - ASR": round(100 * (result.metrics.acc - result.metrics.asr), 2),
            "ACC paper": acc, "ASR paper": asr, "paper source": source or "—",
            "DER %": None if none is None else pct(defense_effectiveness(result.metrics.acc, result.metrics.asr,
                                                                          none.acc, none.asr)),
            "set aside": ev.removed, "set-aside precision %": pct(ev.removed_precision),
            "poisons caught %": pct(ev.removed_recall), "clean set aside %": pct(1 - ev.clean_kept),
            "poisons trained on": ev.poisons_kept,
            "compute (min)": round(result.compute_s / 60, 2), "from cache": result.cache,
        })
    best = max(range(len(rows)), key=lambda i: rows[i]["ACC - ASR"] if rows[i]["defense"] != "No defense" else -1e9)
    for i, row in enumerate(rows):
        row["best ACC - ASR"] = i == best
    return rows


def comparison_table(runs: Iterable[AttackRun], defenses: Sequence[str] = TABLE1_DEFENSES) -> pd.DataFrame:
    """Table 1: every defense on every attack; ``best ACC - ASR`` marks each attack's best defense, as the paper's
    bold does (no defense excluded)."""
    return pd.DataFrame([row for run in runs for row in comparison_rows(run, defenses)])


def disagreements(committed: pd.DataFrame, built: pd.DataFrame) -> list[str]:
    """The rows of a committed comparison whose ACC or ASR differ from this build's for the same attack and
    defense, as "attack/defense": a committed table computed under other settings, code or hardware cannot be read
    beside this build's (it is re-run with ``gssd compare``). Differences below 0.01 points are rounding."""
    keys = ["attack", "defense"]
    both = committed.merge(built, on=keys, suffixes=("", " built"))
    differ = ((both["ACC"] - both["ACC built"]).abs() > 0.01) | ((both["ASR"] - both["ASR built"]).abs() > 0.01)
    return [f"{row.attack}/{row.defense}" for row in both[differ].itertuples()]


# How each wide table is read: a few narrow views of it, each with a title. A pattern with * takes every column it
# matches (stage times); "attack" and "defense" repeat in each view so each reads on its own.
VIEWS = {
    "comparison": (
        ("ACC and ASR, ours beside the paper's", ("attack", "defense", "ACC", "ASR", "ACC paper", "ASR paper",
                                                  "ACC - ASR", "DER %", "best ACC - ASR", "paper source")),
        ("What each defense set aside (against the ground truth): poisons caught is the TPR (elimination rate), "
         "clean set aside the FPR (sacrifice rate)", ("attack", "defense", "set aside", "set-aside precision %",
                                                     "poisons caught %", "clean set aside %",
                                                     "poisons trained on")),
        ("What each defense cost on this machine", ("attack", "defense", "compute (min)", "from cache")),
    ),
    "gssd": (
        ("Detection and ACC/ASR of each step", ("attack", "rate", "rule", "target detected", "kind",
                                                "false-positive classes", "ACC no defense", "ASR no defense",
                                                "ACC D_C only", "ASR D_C only", "ACC GSSD", "ASR GSSD",
                                                "ACC GSSD paper", "ASR GSSD paper")),
        ("The split against the ground truth", ("attack", "n_poisoned", "suspect precision %", "suspect recall %",
                                                "poisons left in D_C", "relabel acc %")),
        ("Compute per stage (s)", ("attack", "poison (s)", "* (s)", "from cache")),
    ),
    "detection": (
        ("Class statistics", ("attack", "rule", "flagged classes", "target kind", "target detected",
                              "ND score target", "ND score max other", "ND threshold", "S_D target", "S_D max other",
                              "valley p *")),
        ("The paper's S_ND (Eq. 2) under either rule", ("attack", "S_ND target", "S_ND max other",
                                                         "S_ND rank of target")),
        ("How the flows rank the target class's poisons", ("attack", "n poisons in target", "AUROC *")),
    ),
    "cleansing": (
        ("ACC and ASR", ("attack", "method", "ACC", "ASR", "ACC paper", "ASR paper", "paper source")),
        ("What each method set aside", ("attack", "method", "flagged precision %", "flagged recall %",
                                        "poisons kept with their poisoned label", "relabeled", "relabel acc %",
                                        "clean kept %")),
    ),
}


def view_columns(table: pd.DataFrame, patterns: Sequence[str]) -> list[str]:
    """The table's columns a view's patterns name, in the view's order (a * pattern in the table's order)."""
    from fnmatch import fnmatch

    columns: list[str] = []
    for pattern in patterns:
        matched = [c for c in table.columns if fnmatch(c, pattern)] if "*" in pattern else [pattern]
        columns += [c for c in matched if c in table.columns and c not in columns]
    return columns
