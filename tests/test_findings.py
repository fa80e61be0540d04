"""The findings prose follows the results files: Table 1's paragraph reads the every-defense table when there is
one, and says where our ranking of the defenses differs from the paper's."""

import pandas as pd
import pytest

from gssd_utils.experiments.findings import findings
from gssd_utils.provenance import Provenance
from gssd_utils.results_io import FULL_COMPARISON, write_results


def _table(rows: list[tuple[str, float, float, float | None, float | None]]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=["defense", "ACC", "ASR", "ACC paper", "ASR paper"])
    return table.assign(attack="badnets", rate=0.1, **{"ACC - ASR": table["ACC"] - table["ASR"]})


def test_table1_findings_prefer_the_full_comparison_and_name_a_different_ranking(tmp_path):
    provenance = Provenance(profile="quick", data={})
    book = _table([("No defense", 80.0, 100.0, 94.9, 100.0), ("GSSD", 70.0, 100.0, 91.7, 0.14)])
    write_results(book, provenance, tmp_path, "comparison")
    assert "the best ACC − ASR is GSSD's" in findings(tmp_path) and "rank" not in findings(tmp_path)

    full = _table([("No defense", 80.0, 100.0, 94.9, 100.0), ("GSSD", 70.0, 100.0, 91.7, 0.14),
                   ("DBD", 78.0, 2.0, 92.4, 0.96), ("kNN", 60.0, 0.5, None, None), ("NAD*", 10.0, 0.0, 88.2, 4.6)])
    write_results(full, provenance, tmp_path, FULL_COMPARISON)
    text = findings(tmp_path)
    assert "the best ACC − ASR is DBD's" in text
    assert "ours rank DBD > NAD* > GSSD, the paper's GSSD > DBD > NAD*" in text  # kNN: no paper number
    assert "NAD* (10.0%) ends near chance accuracy" in text
    assert "the backdoor survives GSSD" in text


def test_a_ranking_that_agrees_with_the_paper_says_so(tmp_path):
    full = _table([("GSSD", 90.0, 1.0, 91.7, 0.14), ("ABL", 92.0, 1.0, 93.8, 1.1)])  # the paper: 92.7 > 91.56
    write_results(full, Provenance(profile="quick", data={}), tmp_path, FULL_COMPARISON)
    assert "rank as in the paper (ABL > GSSD)" in findings(tmp_path)


def test_a_missed_target_with_false_positive_classes_is_not_reported_as_keeping_everything(tmp_path):
    row = {"attack": "badnets", "target detected": False, "false-positive classes": "3,5", "kind": None,
           "ASR no defense": 100.0, "ASR GSSD": 100.0, "ACC no defense": 80.8, "ACC GSSD": 69.1}
    write_results(pd.DataFrame([row]), Provenance(profile="quick", data={}), tmp_path, "gssd")
    text = findings(tmp_path)
    assert "clean classes 3,5 are flagged in its place" in text and "ACC 80.8% → 69.1%" in text
    assert "every sample is kept" not in text


def test_table4_without_relabeled_samples_says_there_is_nothing_to_fine_tune_on(tmp_path):
    rows = [{"attack": "wanet", "training data": data, "fine-tuning": tuned, "ASR ours": asr, "ASR paper": paper}
            for data, tuned, asr, paper in [("Cleansed (D_C)", "no", 93.3, 5.3), ("Cleansed (D_C)", "yes", None, 1.35)]]
    write_results(pd.DataFrame(rows), Provenance(profile="quick", data={}), tmp_path, "table4")
    text = findings(tmp_path)
    assert "leaves the backdoor in place (ASR 93.3%" in text and "no D̂'_P to fine-tune on" in text
    assert "ends at —" not in text


def test_a_committed_comparison_that_disagrees_with_the_build_is_named_row_by_row():
    from gssd_utils.experiments.tables import disagreements

    built = pd.DataFrame({"attack": ["blend", "blend"], "defense": ["No defense", "GSSD"], "ACC": [80.87, 78.96],
                          "ASR": [100.0, 100.0]})
    committed = pd.DataFrame({"attack": ["blend", "blend", "blend"], "defense": ["No defense", "GSSD", "NAD*"],
                              "ACC": [80.87, 71.45, 10.0], "ASR": [100.0, 100.0, 0.0]})
    assert disagreements(committed, built) == ["blend/GSSD"]  # NAD* was not built: nothing to compare it with
    assert disagreements(committed.iloc[:1], built) == []


def test_table1_findings_leave_out_a_full_comparison_that_disagrees_with_the_book(tmp_path):
    provenance = Provenance(profile="quick", data={})
    book = _table([("No defense", 80.9, 100.0, 94.9, 100.0), ("GSSD", 79.0, 100.0, 92.2, 0.77)])
    full = _table([("No defense", 80.9, 100.0, 94.9, 100.0), ("GSSD", 71.5, 100.0, 92.2, 0.77),
                   ("NAD*", 75.6, 2.6, 85.8, 1.3)])
    write_results(book, provenance, tmp_path, "comparison")
    write_results(full, provenance, tmp_path, FULL_COMPARISON)
    text = findings(tmp_path)
    assert "GSSD's (79.0% / 100.0%)" in text and "NAD*" not in text
    assert "disagrees with this one on badnets/GSSD" in text


def test_the_clean_control_paragraph_counts_flags_only_for_defenses_with_a_class_test(tmp_path):
    from gssd_utils.experiments.control import control_summary

    rows = [{"train seed": s, "defense": d, "rule": "calibrated" if d == "GSSD" else None,
             "classes flagged": ("none" if s else "9") if d == "GSSD" else None, "set aside": 0 if d == "GSSD" else 10,
             "sacrifice rate %": 0.0 if d == "GSSD" else 50.0, "relabeled": 0, "ACC": 80.0, "ACC no defense": 80.0,
             "ACC cost": 0.0} for s in (0, 1) for d in ("GSSD", "kNN")]
    write_results(pd.DataFrame(rows), Provenance(profile="quick", data={}), tmp_path, "clean_control")
    summary = control_summary(pd.DataFrame(rows))
    assert summary["runs with a class flagged"].iloc[0] == 1 and pd.isna(summary["runs with a class flagged"].iloc[1])
    text = findings(tmp_path)
    assert "GSSD flags a class in 1 of 2 runs" in text
    assert "kNN sets aside 50.00%" in text and "nan" not in text
    # a committed GSSD-only control over more seeds takes GSSD's place; kNN still comes from the book's control
    many = [{**rows[0], "train seed": s, "classes flagged": "none"} for s in range(5)]
    write_results(pd.DataFrame(many), Provenance(profile="quick", data={}), tmp_path, "clean_control_gssd_seeds")
    text = findings(tmp_path)
    assert "GSSD flags a class in 0 of 5 runs" in text and "1 of 2" not in text and "kNN sets aside 50.00%" in text


def test_der_is_half_for_no_change_and_one_for_a_free_removal_of_the_backdoor():
    from gssd_utils.experiments.tables import defense_effectiveness

    assert defense_effectiveness(0.8, 0.99, 0.8, 0.99) == 0.5
    assert defense_effectiveness(0.8, 0.0, 0.8, 1.0) == 1.0
    assert defense_effectiveness(0.7, 0.1, 0.8, 1.0) == pytest.approx(0.9)
    assert defense_effectiveness(0.9, 1.0, 0.8, 0.9) == 0.5  # gains count for nothing, as in BackdoorBench
