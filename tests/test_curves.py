"""A defense's curves (ACC/ASR after every epoch of every stage) and Table 1 over several train seeds."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from gssd_utils.cache import cache_path
from gssd_utils.cli import main
from gssd_utils.experiments.curves import stage_curves
from gssd_utils.experiments.features import dbd_first_split
from gssd_utils.experiments.runs import AttackRun
from gssd_utils.experiments.spread import seed_file_name, seed_results, seed_spread
from gssd_utils.experiments.sweep import grid_jobs
from gssd_utils.profiles import apply_settings, get_profile

TINY = ["ssl.epochs=2", "classifier.epochs=2", "defenses.dbd.mixmatch.epochs=2", "defenses.dbd.mixmatch.iterations=3",
        "defenses.nad.teacher_epochs=1", "defenses.nad.epochs=2"]


@pytest.mark.slow
def test_curves_observe_every_epoch_of_each_stage_and_end_at_the_defenses_row(digits):
    run = AttackRun(apply_settings(get_profile("smoke"), TINY), "badnets", data=digits, progress=False)
    curves = stage_curves(run, ["dbd", "nad"])
    stages = curves.groupby(["defense", "stage"], sort=False)["epoch"].apply(list).to_dict()
    assert stages == {("DBD", "mixmatch"): [0, 1, 2], ("NAD*", "backdoored model"): [0, 1, 2],
                      ("NAD*", "teacher"): [0, 1], ("NAD*", "student"): [0, 1, 2]}
    # each stage starts from the model the one before it ended with (the teacher and the student both start from
    # the backdoored model), and DBD's MixMatch from its SCE-warmed head: its split there is the first split
    nad = curves[curves["defense"] == "NAD*"].set_index(["stage", "epoch"])
    for stage in ("teacher", "student"):
        assert nad.loc[(stage, 0), ["ACC", "ASR"]].tolist() == nad.loc[("backdoored model", 2), ["ACC", "ASR"]].tolist()
    dbd = curves[curves["defense"] == "DBD"].reset_index(drop=True)
    assert dbd.loc[0, "poisons labelled %"] == pytest.approx(dbd_first_split(run)["poisons labelled %"], abs=0.05)
    # trained afresh in the curve's own folder while observed, the last point is the defense's Table 1 row
    for name, part in (("dbd", dbd), ("nad", nad.reset_index())):
        metrics = run.result(name).metrics
        assert part.iloc[-1][["ACC", "ASR"]].tolist() == [round(100 * metrics.acc, 2), round(100 * metrics.asr, 2)]
    saved = cache_path("curves", run.run_key("dbd"), ".json")
    assert json.loads(saved.read_text())["points"] == dbd.to_dict("records")
    pd.testing.assert_frame_equal(stage_curves(run, ["dbd", "nad"]), curves)  # read back, nothing retrained


def _table(acc: list[float], asr: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"attack": "badnets", "rate": 0.1, "defense": ["No defense", "GSSD"], "ACC": acc, "ASR": asr,
                         "ACC paper": [94.9, 91.7], "ASR paper": [100.0, 0.14]})


def test_the_spread_gives_each_defenses_mean_and_range_over_the_seeds():
    spread = seed_spread({0: _table([80.0, 77.0], [100.0, 1.0]), 1: _table([81.0, 76.0], [100.0, 3.0]),
                          2: _table([82.0, 78.0], [99.0, 8.0])})
    gssd = spread.set_index("defense").loc["GSSD"]
    assert gssd["seeds"] == "0,1,2" and gssd["ACC"] == 77.0 and gssd["ASR"] == 4.0
    assert (gssd["ASR min"], gssd["ASR max"], gssd["ACC paper"]) == (1.0, 8.0, 91.7)
    assert list(spread["defense"]) == ["No defense", "GSSD"]  # the table's order


@pytest.mark.slow
def test_compare_over_train_seeds_writes_one_file_per_seed_that_the_spread_reads(tmp_path, monkeypatch, digits):
    out = tmp_path / "results"
    main(["compare", "--profile", "smoke", "--set", "classifier.epochs=2", "--attacks", "badnets", "--defenses",
          "none", "--train-seeds", "0", "1", "--name", "t1", "--out", str(out)])
    assert sorted(p.name for p in out.iterdir()) == ["t1.csv", "t1.json", "t1_seed1.csv", "t1_seed1.json"]
    found = seed_results(out, "t1", [0, 1, 2])
    assert sorted(found) == [0, 1] and seed_file_name("t1", 1) == "t1_seed1"
    first, second = (found[s][0].iloc[0] for s in (0, 1))
    assert first["ACC"] != second["ACC"]  # another seed trained another model
    assert "seeds: train 1" in found[1][1]["settings"]
    spread = seed_spread({s: part[0] for s, part in found.items()})
    assert spread.loc[0, "ACC min"] == min(first["ACC"], second["ACC"])


def test_the_sweep_plans_a_grid_once_per_train_seed():
    jobs = grid_jobs(get_profile("smoke"), ["badnets"], [None], ["none", "dbd"], [0, 1, 2])
    assert sorted(job.label() for job in jobs) == sorted(f"badnets@paper#seed{s}:{t}" for s in (0, 1, 2)
                                                         for t in ("none", "dbd"))


def test_the_figures_draw_curves_and_a_spread():
    import matplotlib

    matplotlib.use("Agg")
    from gssd_utils.plots import comparison_figure, stage_curves_figure

    curves = pd.DataFrame({"attack": "badnets", "defense": ["DBD"] * 3 + ["NAD*"] * 2,
                           "stage": ["mixmatch"] * 3 + ["teacher", "teacher"], "epoch": [0, 1, 2, 0, 1],
                           "ACC": [50.0, 55.0, 58.0, 80.0, 75.0], "ASR": [5.0, 90.0, 100.0, 100.0, 4.0],
                           "poisons labelled %": [17.0, 60.0, 99.0, None, None]})
    fig = stage_curves_figure(curves)
    assert [len(ax.lines) for ax in fig.axes] == [3 + 1, 2 + 1]  # ACC, ASR (+ DBD's split), one stage marker each
    spread = seed_spread({0: _table([80.0, 77.0], [100.0, 1.0]), 1: _table([81.0, 76.0], [100.0, 3.0])})
    fig = comparison_figure(spread)
    assert len(fig.axes[0].containers) == 2  # one error bar per defense
