"""The recipe searches' results files: what their history of runs vouches for."""
import json

from gssd_utils.experiments.recipes import _merge
from gssd_utils.provenance import Provenance, StageTime
from gssd_utils.results_io import load_results


def _run(out, stages, rows):
    provenance = Provenance(profile="quick", data={}, command=f"run of {' '.join(stages)}")
    provenance.stages = {stage: StageTime() for stage in stages}
    _merge(out, "simclr_recipes", rows, provenance, "test")


def _history(out):
    return [run["command"] for run in load_results(out, "simclr_recipes")[1]["details"]["earlier runs"]]


def test_a_run_leaves_the_history_once_every_point_it_measured_was_measured_again(tmp_path):
    point = lambda recipe, epochs, knn: {"recipe": recipe, "epochs": epochs, "kNN": knn}  # noqa: E731
    _run(tmp_path, ["a", "b"], [point("a", 1, 40.0), point("b", 1, 41.0)])
    _run(tmp_path, ["a"], [point("a", 1, 42.0)])
    assert _history(tmp_path) == ["run of a b"]  # still owns b's point
    _run(tmp_path, ["b"], [point("b", 1, 43.0)])
    assert _history(tmp_path) == ["run of a"]  # a's point is the second run's, b's is the newest's
    table = load_results(tmp_path, "simclr_recipes")[0]
    assert sorted(table["kNN"]) == [42.0, 43.0]


def test_a_classifier_budget_belongs_to_the_run_that_trained_it(tmp_path):
    point = lambda epochs, acc: {"recipe": "c", "epochs": epochs, "ACC": acc}  # noqa: E731
    _run(tmp_path, ["c x2", "c x4"], [point(2, 70.0), point(4, 75.0)])
    _run(tmp_path, ["c x4"], [point(4, 76.0)])
    assert _history(tmp_path) == ["run of c x2 c x4"]
    _run(tmp_path, ["c x2"], [point(2, 71.0)])
    assert _history(tmp_path) == ["run of c x4"]


def test_a_run_recorded_without_stages_stays_in_the_history(tmp_path):
    legacy = {"command": "legacy run", "commit": "0" * 40}  # files written before stages were kept
    rows = [{"recipe": "old", "epochs": 2, "ACC": 70.0}]
    (tmp_path / "simclr_recipes.json").write_text(json.dumps({"provenance": legacy, "rows": rows}))
    _run(tmp_path, ["c x2"], [{"recipe": "c", "epochs": 2, "ACC": 71.0}])
    assert _history(tmp_path) == ["legacy run"]


def test_a_run_recorded_without_stages_leaves_once_none_of_its_rows_is_left(tmp_path):
    legacy = {"command": "legacy run", "commit": "0" * 40}
    (tmp_path / "simclr_recipes.json").write_text(json.dumps({"provenance": legacy,
                                                              "rows": [{"recipe": "c", "epochs": 2, "ACC": 70.0}]}))
    _run(tmp_path, ["c x2"], [{"recipe": "c", "epochs": 2, "ACC": 71.0}])
    assert _history(tmp_path) == []
