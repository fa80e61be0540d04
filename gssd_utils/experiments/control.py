"""The clean-data control: the cleansing defenses on the unpoisoned training set (attack ``clean``), over seeds.

On clean data every class a defense flags, every image it sets aside and every point of accuracy it loses against
no defense is a false alarm; the field calls the share of clean images removed the *sacrifice rate*. Some defenses
set a fixed share aside by design (ABL isolates 1%, DBD leaves half of the set unlabelled, ASD's pool is a half),
so their sacrifice rate on clean data is their design, not a detection error; the table says which.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from gssd_utils.attacks.clean import Clean
from gssd_utils.defenses.registry import defense_names, get_defense_class
from gssd_utils.experiments.runs import AttackRun
from gssd_utils.experiments.tables import pct
from gssd_utils.profiles import Profile

CONTROL = Clean.name
# the results name of a GSSD-only control over many seeds (``gssd control --defenses gssd --name ...``)
MANY_SEEDS_NAME = "clean_control_gssd_seeds"
# every defense that chooses what to train on (``Defense.sets_aside``), Table 1's in its order first
CONTROL_DEFENSES = tuple(name for name in defense_names() if get_defense_class(name).sets_aside)
__all__ = ["CONTROL", "CONTROL_DEFENSES", "MANY_SEEDS_NAME", "control_row", "control_runs", "control_summary",
           "control_table", "family_wise_pvalues"]


def control_runs(profile: Profile, seeds: Sequence[int], data=None, data_root=None,
                 progress: bool = True) -> list[AttackRun]:
    """One run of the unpoisoned training set per train seed (every model reseeded; the data are the same)."""
    data = data if data is not None else profile.load_data(data_root)
    return [AttackRun(profile.with_train_seed(seed), CONTROL, data=data, progress=progress) for seed in seeds]


def control_row(run: AttackRun, defense: str) -> dict:
    """What ``defense`` did to the clean set of ``run``: classes flagged (GSSD), images set aside, the sacrifice rate
    and the accuracy it cost against no defense trained with the same seed."""
    if run.attack != CONTROL:
        raise ValueError(f"the clean-data control runs on attack {CONTROL!r}, not {run.attack!r}")
    result, none = run.result(defense), run.result("none")
    flagged = result.details.get("flagged_classes")
    removed = result.evaluation.removed
    return {
        "train seed": run.profile.train_seed, "defense": get_defense_class(defense).display,
        "rule": result.details.get("detection_rule"),
        "classes flagged": None if flagged is None else (",".join(map(str, flagged)) or "none"),
        "test": None if flagged is None else (",".join(result.details["kind"][str(c)] for c in flagged) or "none"),
        **family_wise_pvalues(result.details),
        "set aside": removed, "sacrifice rate %": pct(removed / len(run.y_train)),
        "relabeled": result.evaluation.relabeled,
        "ACC": pct(result.metrics.acc), "ACC no defense": pct(none.metrics.acc),
        "ACC cost": round(100 * (none.metrics.acc - result.metrics.acc), 2),
    }


def family_wise_pvalues(details: dict) -> dict:
    """The calibrated rule's smallest p-value of each test over the classes, on the family-wise scale its level α
    applies to (a clean set flags a class when either is below α); so over many clean seeds the share of runs with
    a p below α measures the false-alarm level the rule states. Missing for other rules and defenses."""
    if details.get("detection_rule") != "calibrated":
        return {"p non-disruptive": None, "p disruptive": None}
    per_class = details["per_class"]
    # p_ND is one class's; the test shares α among the C classes (Bonferroni). p_D is corrected already.
    p_nd = min(1.0, len(per_class) * min(c["p_ND"] for c in per_class))
    return {"p non-disruptive": float(f"{p_nd:.3g}"), "p disruptive": float(f"{min(c['p_D'] for c in per_class):.3g}")}


def control_table(runs: Iterable[AttackRun], defenses: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame([control_row(run, defense) for run in runs for defense in defenses])


def control_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per defense over the seeds: how many runs flagged a class (missing for defenses without a class-level test),
    the sacrifice rate and the ACC cost (mean, range)."""
    def spread(values: pd.Series) -> str:
        return f"{values.min():.2f} to {values.max():.2f}"

    rows = []
    for defense, group in table.groupby("defense", sort=False):
        flagged = group["classes flagged"]
        rows.append({
            "defense": defense, "seeds": len(group),
            "runs with a class flagged": pd.NA if flagged.isna().all() else int((flagged != "none").sum()),
            "sacrifice rate % (mean)": round(group["sacrifice rate %"].mean(), 2),
            "sacrifice rate % (range)": spread(group["sacrifice rate %"]),
            "ACC cost (mean)": round(group["ACC cost"].mean(), 2), "ACC cost (range)": spread(group["ACC cost"]),
        })
    # a nullable integer: defenses that flag no classes stay missing instead of turning the counts into floats
    return pd.DataFrame(rows).astype({"runs with a class flagged": "Int64"})
