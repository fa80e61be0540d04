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
