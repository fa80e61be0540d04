"""The command line: listing, poisoning to npz, results with provenance, the defend command end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from gssd_utils.atomic_io import load_npz
from gssd_utils.attacks.poisoning import poison_count
from gssd_utils.cli import PROFILES, main
from gssd_utils.profiles import PROFILE_NAMES, get_profile


def fails(capsys, argv: list[str], code: int = 2) -> str:
    """Run the command, expect exit ``code`` with one line on stderr and no traceback; return that line."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gssd: error:"), err
    return err[0]


def test_attacks_lists_registry(capsys):
    main(["attacks"])
    out = capsys.readouterr().out
    assert "badnets" in out and "chessboard" in out and "10.0%" in out


def test_listing_commands_import_no_heavy_library():
    """gssd --help and gssd attacks must answer at once: torch alone takes seconds to import."""
    code = ("import sys; from gssd_utils.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "main(['attacks'])\n"
            "print(sorted(m for m in ('torch', 'pandas', 'matplotlib', 'lightly', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_cli_profiles_are_the_library_profiles():
    assert PROFILES == PROFILE_NAMES


def test_poison_writes_the_bring_your_own_format(tmp_path):
    main(["poison", "--profile", "smoke", "--attack", "blend", "--param", "alpha=0.2", "--out", str(tmp_path)])
    data = load_npz(tmp_path / "data.npz")
    truth = load_npz(tmp_path / "truth.npz")
    assert data["x_train"].dtype == np.uint8
    assert np.all(data["y_train"][truth["poison_indices"]] == 0)
    assert '"alpha": 0.2' in (tmp_path / "attack.json").read_text()


def test_unknown_attack_and_bad_params_exit_2_with_the_choices(capsys, tmp_path):
    line = fails(capsys, ["poison", "--profile", "smoke", "--attack", "nope", "--out", str(tmp_path)])
    assert "unknown attack 'nope'; valid choices" in line
    line = fails(capsys, ["poison", "--profile", "smoke", "--attack", "blend", "--param", "alpha", "--out",
                          str(tmp_path)])
    assert "NAME=VALUE" in line


@pytest.mark.slow
def test_evaluate_writes_gssd_and_the_anatomy_of_its_fine_tuning(tmp_path):
    main(["evaluate", "--profile", "smoke", "--attacks", "badnets", "--out", str(tmp_path)])
    gssd = json.loads((tmp_path / "gssd.json").read_text())["rows"][0]
    anatomy = json.loads((tmp_path / "finetune_anatomy.json").read_text())["rows"][0]
    assert gssd["target detected"] and anatomy["D'_P"] > 0
    # the anatomy measures the very models the GSSD row reports
    assert (anatomy["ACC fine-tuned"], anatomy["ASR fine-tuned"]) == (gssd["ACC GSSD"], gssd["ASR GSSD"])
    assert (anatomy["ACC D_C"], anatomy["ASR D_C"]) == (gssd["ACC D_C only"], gssd["ASR D_C only"])
    path = json.loads((tmp_path / "finetune_norm_path.json").read_text())["rows"]
    assert (path[0]["ACC"], path[0]["ASR"]) == (gssd["ACC D_C only"], gssd["ASR D_C only"]) and len(path) == 5


@pytest.mark.slow
def test_no_defense_writes_results_with_provenance(tmp_path):
    main(["no-defense", "--profile", "smoke", "--attacks", "chessboard", "--out", str(tmp_path)])
    record = json.loads((tmp_path / "no_defense.json").read_text())
    provenance = record["provenance"]
    assert provenance["profile"] == "smoke" and provenance["data"]["name"] == "digits32"
    assert provenance["command"].startswith("gssd no-defense") and "/" not in provenance["data"].get("source", "")
    row = record["rows"][0]
    assert row["attack"] == "chessboard" and 0 <= row["ASR ours"] <= 100 and row["ASR paper"] == 99.9
    assert row["train time (s)"] > 0 and row["from cache"] is False
    assert (tmp_path / "no_defense.csv").read_text().startswith("attack,")
    # again: the model comes from the cache, and the table says so with the training's original cost
    main(["no-defense", "--profile", "smoke", "--attacks", "chessboard", "--out", str(tmp_path)])
    again = json.loads((tmp_path / "no_defense.json").read_text())["rows"][0]
    assert again["from cache"] is True and again["train time (s)"] == row["train time (s)"]
    assert again["ASR ours"] == row["ASR ours"]


@pytest.mark.slow
def test_no_defense_sweeps_rates_and_shows_paper_numbers_only_at_the_papers_rate(tmp_path):
    main(["no-defense", "--profile", "smoke", "--attacks", "chessboard", "--rates", "0.02", "0.05",
          "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "no_defense.json").read_text())["rows"]
    # the rate counts the training part only: the profile's clean reserve is held out before poisoning
    profile = get_profile("smoke")
    train, _ = profile.load_data().split_reserve(profile.clean_reserve, profile.subset_seed)
    config = profile.poison_config("chessboard", 0.02, 0, 0)
    expected = [(rate, poison_count(train.y_train, rate, 0, config.rate_base)) for rate in (0.02, 0.05)]
    assert [(r["rate"], r["n_poisoned"]) for r in rows] == expected
    assert rows[0]["ASR paper"] == 99.9
    assert rows[1]["ASR paper"] is None and rows[1]["paper source"] == "—"


def test_rate_and_rates_together_are_refused(capsys, tmp_path):
    line = fails(capsys, ["no-defense", "--profile", "smoke", "--rate", "0.1", "--rates", "0.05", "--out",
                          str(tmp_path)])
    assert "either --rate or --rates" in line


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(cmd in out for cmd in ("attacks", "defenses", "poison", "no-defense", "evaluate", "bench", "defend"))


def test_bench_prints_a_rate_for_every_stage(capsys, tmp_path):
    main(["bench", "--profile", "smoke", "--batches", "2", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "bench_smoke.json").read_text())
    assert record["provenance"]["device"].startswith("cpu") and len(record["rows"]) == 6
    assert out.startswith("cpu:") and "torch" in out
    for stage in ("SSL", "classifier", "flow training", "log-likelihood matrix", "UMAP"):
        line = next(line for line in out.splitlines() if line.strip().startswith(stage))
        assert float(line.split()[-3]) > 0, line  # columns: stage, rate, unit, wall time


@pytest.mark.slow
def test_defend_end_to_end_writes_every_artifact_and_reuses_the_cache(tmp_path):
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
    assert {"ssl", "features", "flows", "detection + split", "retrain"} <= set(report["stages"])
    assert all(stage["cache"] == "computed" for stage in report["stages"].values())
    assert report["evaluation"]["n_poisoned"] == 144 and report["truth_original_labels"] == "one label per poison"
    assert 0.0 <= report["acc"] <= 1.0 and 0.0 <= report["asr"] <= 1.0
    assert load_npz(tmp_path / "first" / "scores.npz")["loglik"].shape == (n, 10)
    weights = __import__("torch").load(tmp_path / "first" / "model.pt", weights_only=True)
    assert "linear.weight" in weights

    main([*common, "--out", str(tmp_path / "second")])
    again = json.loads((tmp_path / "second" / "report.json").read_text())
    assert again["cache_keys"] == report["cache_keys"]
    for stage in ("ssl", "flows", "retrain"):  # served from the cache, reported at their original cost
        assert again["stages"][stage]["cache"] == "cached"
        # the cache records the computation itself; the first run's wall time adds writing the artifact
        assert again["stages"][stage]["compute_s"] == pytest.approx(report["stages"][stage]["seconds"], rel=0.1)
        assert again["stages"][stage]["seconds"] < report["stages"][stage]["seconds"] / 3
    np.testing.assert_array_equal(load_npz(tmp_path / "second" / "split.npz")["clean_indices"],
                                  split["clean_indices"])
    assert again["acc"] == report["acc"]


def test_recorded_commands_carry_no_machine_paths():
    from gssd_utils.provenance import REPO_ROOT, invocation

    command = invocation([str(REPO_ROOT / ".venv/bin/gssd"), "defend", "--out", str(REPO_ROOT / "runs/a"),
                          "--data", "/home/someone/secret/data.npz", "--profile", "quick"])
    assert command == "gssd defend --out runs/a --data .../data.npz --profile quick"


TINY_BASELINES = ["--set", "classifier.epochs=2", "--set", "ssl.epochs=2", "--set", "flows.epochs=2",
                  "--set", "defenses.nad.teacher_epochs=1", "--set", "defenses.nad.epochs=2",
                  "--set", "defenses.finetune.epochs=2", "--set", "defenses.abl.isolation_epochs=1",
                  "--set", "defenses.abl.finetune_epochs=1", "--set", "defenses.dbd.mixmatch.epochs=1",
                  "--set", "defenses.asd.mixmatch.epochs=3", "--set", "defenses.asd.class_aware_until=0.34",
                  "--set", "defenses.asd.meta_from=0.67"]


def test_a_defense_that_needs_clean_data_without_any_names_the_options(capsys, tmp_path):
    poisoned = tmp_path / "poisoned"
    main(["poison", "--profile", "smoke", "--attack", "badnets", "--out", str(poisoned)])
    capsys.readouterr()
    line = fails(capsys, ["defend", "--data", str(poisoned / "data.npz"), "--profile", "smoke", "--defense", "nad",
                          "--train", "--out", str(tmp_path / "out")])
    assert "needs a clean reserve" in line and "x_clean and y_clean" in line and "--clean FILE.npz" in line


@pytest.mark.slow
def test_every_baseline_runs_end_to_end_through_the_cli(tmp_path):
    poisoned = tmp_path / "poisoned"
    main(["poison", "--profile", "smoke", "--attack", "badnets", "--out", str(poisoned)])
    data = load_npz(poisoned / "data.npz")
    reserve = tmp_path / "reserve.npz"  # a clean reserve: the test images' first 60 (never trained on)
    np.savez(reserve, x_clean=data["x_test"][:60], y_clean=data["y_test"][:60])
    for defense in ("nad", "finetune", "abl", "dbd", "asd"):
        out = tmp_path / defense
        main(["defend", "--data", str(poisoned / "data.npz"), "--profile", "smoke", "--defense", defense, "--train",
              "--clean", str(reserve), "--truth", str(poisoned / "truth.npz"), "--out", str(out), *TINY_BASELINES])
        report = json.loads((out / "report.json").read_text())
        assert report["defense"] == defense and 0 <= report["acc"] <= 1 and 0 <= report["asr"] <= 1
        assert report["evaluation"]["n_poisoned"] == 144 and (out / "model.pt").exists()
        assert report["clean_reserve"] == (60 if defense in ("nad", "finetune", "asd") else 0)


@pytest.mark.slow
def test_compare_writes_table1_with_the_papers_numbers(tmp_path):
    main(["compare", "--profile", "smoke", "--attacks", "badnets", "--defenses", "none", "abl", "gssd",
          "--out", str(tmp_path), *TINY_BASELINES])
    record = json.loads((tmp_path / "comparison_all_defenses.json").read_text())  # not the book's name
    rows = {row["defense"]: row for row in record["rows"]}
    assert set(rows) == {"No defense", "ABL", "GSSD"}
    assert rows["ABL"]["ACC paper"] == 93.8 and rows["ABL"]["set aside"] == 14  # 1% of 1,365, isolated
    assert sum(row["best ACC - ASR"] for row in rows.values()) == 1 and not rows["No defense"]["best ACC - ASR"]
    assert rows["No defense"]["DER %"] == 50.0 and rows["No defense"]["clean set aside %"] == 0.0
    for row in rows.values():  # DER from the row's own ACC/ASR and no defense's
        gain = max(0.0, rows["No defense"]["ASR"] - row["ASR"]) - max(0.0, rows["No defense"]["ACC"] - row["ACC"])
        assert row["DER %"] == pytest.approx(50 + gain / 2, abs=0.02)
