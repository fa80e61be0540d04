"""Issue 12's failures, each reproduced: bad input is one line and exit 2 before any work, Ctrl-C is 130, a
failure in the evaluation keeps the defense's outputs, and outputs are readable by the group."""

from __future__ import annotations

import json
import os
import stat
import zipfile

import numpy as np
import pytest

from gssd_utils import cli
from gssd_utils.attacks import load_truth
from gssd_utils.cli import main


def _data(tmp_path, n=120, classes=4, **overrides):
    """``n`` real digit images of ``classes`` classes (random noise makes degenerate features)."""
    from gssd_utils.data import load_digits32

    digits = load_digits32()
    train = np.flatnonzero(digits.y_train < classes)[:n]
    test = np.flatnonzero(digits.y_test < classes)[:20]
    arrays = {"x_train": digits.x_train[train], "y_train": digits.y_train[train],
              "x_test": digits.x_test[test], "y_test": digits.y_test[test]}
    arrays.update(overrides)
    path = tmp_path / "data.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def _truth(tmp_path, **arrays):
    path = tmp_path / "truth.npz"
    np.savez(path, **arrays)
    return path


# settings that make GSSD run in seconds on 120 random images (no --train: it stops after the split)
FAST = ["--profile", "smoke", "--set", "ssl.epochs=1", "--set", "ssl.batch_size=32", "--set", "flows.epochs=1",
        "--set", "flows.batch_size=8", "--set", "flows.min_class_size=8"]


def fails(capsys, argv, code=2, ran=False):
    """Expect exit ``code``; before any work (``ran`` False) stderr is exactly one line. Returns the error line."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and lines[-1].startswith("gssd: error:"), err
    assert ran or len(lines) == 1, lines
    return lines[-1]


def _defend(tmp_path, *extra, data=None):
    return ["defend", "--data", str(data or _data(tmp_path)), "--out", str(tmp_path / "out"), *FAST, *extra]


@pytest.fixture()
def no_training(monkeypatch):
    """Any attempt to start the defense fails the test: bad input must be refused before the work."""
    from gssd_utils.defenses.gssd import GSSD

    def forbidden(*_args, **_kwargs):
        pytest.fail("the defense started although the input was bad")

    monkeypatch.setattr(GSSD, "run", forbidden)
    monkeypatch.setattr(GSSD, "cleanse", forbidden)


@pytest.mark.parametrize(("truth", "match"), [
    ({"poison_indices": np.array([3, 500])}, r"--truth .*outside the training set \(\[500\]; valid: 0\.\.119\)"),
    ({"poison_indices": np.array([3, -1])}, r"--truth .*indices outside the training set \(\[-1\]"),
    ({"poison_indices": np.array([3, 3])}, r"more than once"),
    ({"poison_indices": np.array([3, 4]), "original_labels": np.array([1, 2, 3])},
     r"'original_labels' has 3 entries; expected 2 \(one per poison.*or 120 \(one per training sample\)"),
    ({"poison_indices": np.array([3, 4]), "original_labels": np.array([1, 9])}, r"labels outside the classes"),
    ({"poison_indices": np.array([3, 4]), "target": np.array(7)}, r"target 7 is not a class"),
    ({"poison_indices": np.array([3.0, 4.0])}, r"1-D integer array"),
    ({"indices": np.array([3])}, r"poison_indices required"),
])
def test_a_bad_truth_file_is_refused_before_any_work(capsys, tmp_path, no_training, truth, match):
    line = fails(capsys, _defend(tmp_path, "--truth", str(_truth(tmp_path, **truth))))
    assert __import__("re").search(match, line), line
    assert not (tmp_path / "out" / "split.npz").exists()


def test_a_truth_file_that_is_not_an_npz_names_the_option_and_the_file(capsys, tmp_path, no_training):
    bad = tmp_path / "truth.pkl"
    bad.write_bytes(b"\x80\x04not a zip")
    line = fails(capsys, _defend(tmp_path, "--truth", str(bad)))
    assert "--truth" in line and "truth.pkl" in line and "not an .npz" in line and "pickle" not in line


def test_original_labels_per_poison_or_per_training_sample(tmp_path):
    per_poison, layout = load_truth(_truth(tmp_path, poison_indices=np.array([5, 2]),
                                           original_labels=np.array([1, 3])), 10, 4)
    assert layout == "one label per poison" and per_poison.original_labels.tolist() == [1, 3]
    labels = np.arange(10) % 4
    per_sample, layout = load_truth(_truth(tmp_path, poison_indices=np.array([5, 2]), original_labels=labels), 10, 4)
    assert layout == "one label per training sample" and per_sample.original_labels.tolist() == [1, 2]


@pytest.mark.parametrize("where", ["file", "under a file"])
def test_out_that_is_or_lies_under_a_file_is_refused_before_any_work(capsys, tmp_path, no_training, where):
    blocker = tmp_path / "taken"
    blocker.write_text("a file")
    out = blocker if where == "file" else blocker / "sub"
    argv = _defend(tmp_path)
    argv[argv.index("--out") + 1] = str(out)
    line = fails(capsys, argv)
    assert "--out" in line and "is a file, not a folder" in line


def test_a_cache_folder_that_is_a_file_is_refused(capsys, tmp_path, monkeypatch, no_training):
    blocker = tmp_path / "cachefile"
    blocker.write_text("x")
    monkeypatch.setenv("GSSD_CACHE", str(blocker))
    line = fails(capsys, _defend(tmp_path))
    assert "GSSD_CACHE" in line and "is a file, not a folder" in line


@pytest.mark.parametrize(("overrides", "match"), [
    ({"x_train": np.zeros((0, 32, 32, 3), np.uint8), "y_train": np.zeros(0, np.int64)}, "no images"),
    ({"y_train": np.full(120, 2**32 - 1, np.int64)}, r"label 4294967295 with only 120 samples"),
])
def test_empty_arrays_and_huge_label_ids_are_refused(capsys, tmp_path, no_training, overrides, match):
    line = fails(capsys, _defend(tmp_path, data=_data(tmp_path, **overrides)))
    assert __import__("re").search(match, line), line


def test_an_npz_member_that_is_not_an_array_is_refused(capsys, tmp_path, no_training):
    path = _data(tmp_path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("notes.txt", "hello")
    line = fails(capsys, _defend(tmp_path, data=path))
    assert "notes.txt" in line and "not .npy arrays" in line


def test_settings_the_messages_mention_can_be_set(capsys, tmp_path, no_training):
    line = fails(capsys, [*_defend(tmp_path), "--set", "ssl.batch_size=500"])
    assert "--set ssl.batch_size=120" in line  # the fix names an option that exists...
    line = fails(capsys, [*_defend(tmp_path), "--set", "ssl.batchsize=5"])
    assert "no setting 'batchsize'" in line and "batch_size" in line  # ...and a wrong name lists the right ones
    line = fails(capsys, [*_defend(tmp_path), "--set", "flows.lr=fast"])
    assert "expects a value like 0.001" in line


def test_a_defense_that_trains_by_design_asks_for_train(capsys, tmp_path, no_training):
    line = fails(capsys, [*_defend(tmp_path), "--defense", "none"])
    assert "trains a classifier by design" in line and "--train" in line
    line = fails(capsys, [*_defend(tmp_path), "--defense", "nope"])
    assert "unknown defense 'nope'" in line


def test_ctrl_c_exits_130_with_one_line(capsys, monkeypatch):
    def interrupted(_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_attacks", interrupted)
    with pytest.raises(SystemExit) as exc:
        main(["attacks"])
    assert exc.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0] and "resumes" in err[0]


def test_debug_shows_the_traceback(capsys, tmp_path):
    with pytest.raises(SystemExit):
        main(["poison", "--profile", "smoke", "--attack", "nope", "--out", str(tmp_path), "--debug"])
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("gssd: error: unknown attack")


def test_a_failing_evaluation_keeps_the_outputs_and_reports_the_error(capsys, tmp_path, monkeypatch):
    import gssd_utils.evaluation as evaluation

    def broken(*_args, **_kwargs):
        raise RuntimeError("evaluation exploded")

    monkeypatch.setattr(evaluation, "evaluate_removal", broken)
    truth = _truth(tmp_path, poison_indices=np.array([3, 4]), original_labels=np.array([1, 2]), target=np.array(0))
    os.umask(0o022)
    line = fails(capsys, _defend(tmp_path, "--truth", str(truth)), code=1, ran=True)
    assert "outputs and report.json were written" in line and "evaluation exploded" in line
    out = tmp_path / "out"
    report = json.loads((out / "report.json").read_text())
    assert report["evaluation_error"] == "RuntimeError: evaluation exploded"
    assert report["flagged_classes"] is not None and (out / "split.npz").exists() and (out / "scores.npz").exists()
    for name in ("report.json", "split.npz", "removed.npz"):  # written as open() would: readable by the group
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644
