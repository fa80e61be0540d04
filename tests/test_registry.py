"""A defense is one module plus one registry line: everything else (listing, sweep, Table 1, gssd defend, the
clean-data control, the profiles) learns about it from its registered class."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap

import pytest

from gssd_utils.cli import main
from gssd_utils.defenses.registry import DEFENSES
from gssd_utils.profiles import apply_settings, get_profile

MODULE = '''
from dataclasses import dataclass

import numpy as np

from gssd_utils.defenses.base import register
from gssd_utils.defenses.none import NoDefense


@dataclass(frozen=True)
class DummyConfig:
    marker: int = 7


@register
class Dummy(NoDefense):
    """No defense under another name, with a file of its own: a stand-in for a contributor's new defense."""

    name = "dummy"
    display = "Dummy"
    summary = "a test's defense: the no-defense model, and a file of its own"
    config_class = DummyConfig
    sets_aside = True

    def extra_outputs(self, outcome):
        return {"dummy.npz": {"marker": np.array([self.config.marker])}}
'''


@pytest.fixture()
def dummy(tmp_path, monkeypatch):
    (tmp_path / "dummy_defense.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("dummy_defense")  # the registry line
    yield
    DEFENSES.pop("dummy", None)
    sys.modules.pop("dummy_defense", None)


@pytest.mark.slow
def test_a_new_defense_is_listed_planned_compared_and_run_by_defend(dummy, tmp_path, capsys):
    main(["defenses"])
    assert "dummy" in capsys.readouterr().out

    main(["sweep", "--profile", "smoke", "--dry-run", "--attacks", "badnets", "--tasks", "none", "dummy"])
    planned = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["job"] for row in planned] == ["badnets@paper:none", "badnets@paper:dummy"]
    assert planned[1]["wave"] == 1 and planned[1]["classifier images"] > 0

    profile = get_profile("smoke")
    assert profile.defense_config("dummy").marker == 7
    assert apply_settings(profile, ["defenses.dummy.marker=3"]).defense_config("dummy").marker == 3

    main(["compare", "--profile", "smoke", "--attacks", "badnets", "--defenses", "none", "dummy",
          "--out", str(tmp_path / "compare")])
    rows = json.loads((tmp_path / "compare" / "comparison_all_defenses.json").read_text())["rows"]
    assert [row["defense"] for row in rows] == ["No defense", "Dummy"]
    assert rows[1]["ACC"] == rows[0]["ACC"]  # the same model, reused from the cache

    poisoned = tmp_path / "poisoned"
    main(["poison", "--profile", "smoke", "--attack", "badnets", "--out", str(poisoned)])
    main(["defend", "--data", str(poisoned / "data.npz"), "--profile", "smoke", "--defense", "dummy",
          "--set", "defenses.dummy.marker=5", "--train", "--out", str(tmp_path / "defended")])
    assert json.loads((tmp_path / "defended" / "report.json").read_text())["defense"] == "dummy"
    from gssd_utils.atomic_io import load_npz

    assert load_npz(tmp_path / "defended" / "dummy.npz")["marker"].tolist() == [5]


def test_the_control_runs_every_defense_that_sets_samples_aside():
    from gssd_utils.experiments.control import CONTROL_DEFENSES
    from gssd_utils.experiments.sweep import book_jobs

    assert CONTROL_DEFENSES == ("abl", "dbd", "asd", "knn", "energy", "gssd")  # Table 1's order
    profile = get_profile("smoke")
    labels = {job.label() for job in book_jobs(profile)}
    assert "clean@paper#seed0:abl" in labels and "clean@paper#seed0:nad" not in labels


def test_gssd_is_set_through_the_profiles_own_sections():
    profile = get_profile("smoke")
    with pytest.raises(ValueError, match=r"gssd is configured by the profile's own sections.*set ssl, flows"):
        apply_settings(profile, ["defenses.gssd.flows.epochs=3"])
    assert apply_settings(profile, ["flows.epochs=3"]).defense_config("gssd").flows.epochs == 3
