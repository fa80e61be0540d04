"""The clean-data control: defenses on the unpoisoned set, what they set aside and cost, over seeds."""

from __future__ import annotations

import pandas as pd
import pytest

from gssd_utils.experiments.control import control_row, control_runs, control_summary, control_table
from gssd_utils.experiments.runs import AttackRun
from gssd_utils.profiles import apply_settings, get_profile

TINY = ["ssl.epochs=2", "flows.epochs=2", "classifier.epochs=2"]


@pytest.mark.slow
def test_the_control_reports_what_each_defense_set_aside_on_clean_data_per_seed(digits):
    profile = apply_settings(get_profile("smoke"), TINY)
    runs = control_runs(profile, [0, 1], data=digits, progress=False)
    assert [run.profile.train_seed for run in runs] == [0, 1] and all(run.rate == 0 for run in runs)
    table = control_table(runs, ["gssd", "knn"])
    assert list(table["train seed"]) == [0, 0, 1, 1]
    gssd = table[table["defense"] == "GSSD"]
    assert gssd["rule"].eq("calibrated").all() and gssd["classes flagged"].notna().all()
    # a class is flagged exactly when a family-wise p-value falls below the rule's level
    alpha = profile.detection.false_alarm
    below = (gssd[["p non-disruptive", "p disruptive"]].min(axis=1) < alpha)
    assert (below == (gssd["classes flagged"] != "none")).all()
    assert gssd["test"].eq("none").eq(gssd["classes flagged"].eq("none")).all()
    knn = table[table["defense"] == "kNN"]
    assert knn["classes flagged"].isna().all() and knn["p non-disruptive"].isna().all()  # kNN flags samples
    n = len(runs[0].y_train)
    assert (table["sacrifice rate %"] == (100 * table["set aside"] / n).round(2)).all()
    # the cost is rounded from the raw accuracies, the two columns each on their own
    assert ((table["ACC cost"] - (table["ACC no defense"] - table["ACC"])).abs() <= 0.011).all()
    summary = control_summary(table)
    assert list(summary["seeds"]) == [2, 2] and pd.isna(summary["runs with a class flagged"].iloc[1])


def test_the_control_runs_only_on_the_clean_set(digits):
    run = AttackRun(apply_settings(get_profile("smoke"), TINY), "badnets", data=digits, progress=False)
    with pytest.raises(ValueError, match="runs on attack 'clean'"):
        control_row(run, "gssd")
