"""The command line: listing, poisoning to npz, and clear failures."""

from __future__ import annotations

import numpy as np
import pytest

from gssd_utils.atomic_io import load_npz
from gssd_utils.cli import main


def test_attacks_lists_registry(capsys):
    main(["attacks"])
    out = capsys.readouterr().out
    assert "badnets" in out and "chessboard" in out and "10.0%" in out


def test_poison_writes_the_bring_your_own_format(tmp_path):
    main(["poison", "--profile", "smoke", "--attack", "blend", "--param", "alpha=0.2", "--out", str(tmp_path)])
    data = load_npz(tmp_path / "data.npz")
    truth = load_npz(tmp_path / "truth.npz")
    assert data["x_train"].dtype == np.uint8
    assert np.all(data["y_train"][truth["poison_indices"]] == 0)
    assert '"alpha": 0.2' in (tmp_path / "attack.json").read_text()


def test_unknown_attack_exits_with_the_choices(tmp_path):
    with pytest.raises(SystemExit, match=r"unknown attack 'nope'; valid choices"):
        main(["poison", "--profile", "smoke", "--attack", "nope", "--out", str(tmp_path)])


def test_bad_param_syntax(tmp_path):
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        main(["poison", "--profile", "smoke", "--attack", "blend", "--param", "alpha", "--out", str(tmp_path)])


@pytest.mark.slow
def test_no_defense_writes_results_with_provenance(tmp_path):
    import json

    main(["no-defense", "--profile", "smoke", "--attacks", "chessboard", "--out", str(tmp_path)])
    record = json.loads((tmp_path / "no_defense.json").read_text())
    assert record["provenance"]["profile"] == "smoke"
    assert record["provenance"]["data"]["name"] == "digits32"
    assert record["rows"][0]["attack"] == "chessboard"
    assert 0 <= record["rows"][0]["ASR ours"] <= 100
    assert record["rows"][0]["ASR paper"] == 99.9
    assert (tmp_path / "no_defense.csv").read_text().startswith("attack,")


@pytest.mark.slow
def test_no_defense_sweeps_rates_and_shows_paper_numbers_only_at_the_papers_rate(tmp_path):
    import json

    main(["no-defense", "--profile", "smoke", "--attacks", "chessboard", "--rates", "0.02", "0.05",
          "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "no_defense.json").read_text())["rows"]
    assert [(r["rate"], r["n_poisoned"]) for r in rows] == [(0.02, 29), (0.05, 72)]
    assert rows[0]["ASR paper"] == 99.9
    assert rows[1]["ASR paper"] is None and rows[1]["paper source"] == "—"


def test_rate_and_rates_together_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="either --rate or --rates"):
        main(["no-defense", "--profile", "smoke", "--rate", "0.1", "--rates", "0.05", "--out", str(tmp_path)])


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(cmd in out for cmd in ("attacks", "poison", "no-defense", "evaluate", "bench", "defend"))


def test_bench_prints_a_rate_for_every_stage(capsys, tmp_path):
    import json

    main(["bench", "--profile", "smoke", "--batches", "2", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "bench_smoke.json").read_text())
    assert record["provenance"]["device"].startswith("cpu") and len(record["rows"]) == 6
    assert out.startswith("cpu:") and "torch" in out
    for stage in ("SimCLR", "classifier", "flow training", "log-likelihood matrix", "UMAP"):
        line = next(line for line in out.splitlines() if line.strip().startswith(stage))
        assert float(line.split()[-3]) > 0, line  # columns: stage, rate, unit, wall time


def test_defend_rejects_a_bad_npz(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=np.zeros((4, 8, 8, 3), np.uint8))
    with pytest.raises(SystemExit, match="missing y_train"):
        main(["defend", "--data", str(bad), "--profile", "smoke", "--out", str(tmp_path / "out")])


@pytest.mark.slow
def test_defend_end_to_end_writes_every_artifact_and_reuses_the_cache(tmp_path):
    import json

    poisoned = tmp_path / "poisoned"
    main(["poison", "--profile", "smoke", "--attack", "badnets", "--out", str(poisoned)])
    common = ["defend", "--data", str(poisoned / "data.npz"), "--profile", "smoke",
              "--truth", str(poisoned / "truth.npz"), "--train"]
    main([*common, "--out", str(tmp_path / "first")])
    report = json.loads((tmp_path / "first" / "report.json").read_text())
    n = len(load_npz(poisoned / "data.npz")["y_train"])
    split = load_npz(tmp_path / "first" / "split.npz")
    parts = np.concatenate([split["clean_indices"], split["suspect_indices"], split["uncertain_indices"]])
    np.testing.assert_array_equal(np.sort(parts), np.arange(n))
    assert sum(v for k, v in report["split_sizes"].items() if k != "relabeled") == n
    assert len(report["per_class"]) == 10 and {"S_ND", "S_D", "kind"} <= set(report["per_class"][0])
    assert {"simclr", "features", "flows", "detection + split", "retrain"} <= set(report["wall_time_s"])
    assert report["evaluation"]["n_poisoned"] == 144
    assert 0.0 <= report["acc"] <= 1.0 and 0.0 <= report["asr"] <= 1.0
    assert load_npz(tmp_path / "first" / "scores.npz")["loglik"].shape == (n, 10)

    main([*common, "--out", str(tmp_path / "second")])
    again = json.loads((tmp_path / "second" / "report.json").read_text())
    assert again["cache_keys"] == report["cache_keys"]
    assert again["wall_time_s"]["simclr"] < report["wall_time_s"]["simclr"] / 5  # served from the cache
    assert again["wall_time_s"]["flows"] < report["wall_time_s"]["flows"] / 5
    np.testing.assert_array_equal(load_npz(tmp_path / "second" / "split.npz")["clean_indices"],
                                  split["clean_indices"])
    assert again["acc"] == report["acc"]


def test_recorded_commands_carry_no_machine_paths():
    from gssd_utils.provenance import _REPO_ROOT, invocation

    command = invocation([str(_REPO_ROOT / ".venv/bin/gssd"), "defend", "--out", str(_REPO_ROOT / "runs/a"),
                          "--data", "/home/someone/secret/data.npz", "--profile", "quick"])
    assert command == "gssd defend --out runs/a --data .../data.npz --profile quick"
