"""Cache entries carry their record; a mismatch is a miss that recomputes with one warning; costs are charged."""

from __future__ import annotations

import json
import subprocess
import time
import warnings

import numpy as np
import pytest

from gssd_utils import provenance
from gssd_utils.atomic_io import load_npz, save_npz
from gssd_utils.cache import CacheMissWarning, cache_path, cached_arrays
from gssd_utils.provenance import Provenance, measure


def _compute(calls):
    def compute():
        calls.append(1)
        time.sleep(0.05)  # a cost worth charging
        return {"features": np.ones((4, 3), np.float32)}

    return compute


def test_an_entry_is_reused_and_its_original_cost_charged():
    calls = []
    path = cache_path("features", "k", ".npz")
    with measure() as first:
        cached_arrays(path, _compute(calls), config={"model": "a"}, expect={"features": (4, None)})
    assert first.cache == "computed" and calls == [1] and first.compute_s >= 0.05
    with measure() as second:
        arrays = cached_arrays(path, _compute(calls), config={"model": "a"}, expect={"features": (4, None)})
    assert calls == [1] and arrays["features"].shape == (4, 3)
    assert second.cache == "cached" and second.compute_s >= 0.05 and second.seconds < 0.05 and second.origin


@pytest.mark.parametrize(("config", "expect", "why"), [
    ({"model": "b"}, None, "produced by another config"),
    ({"model": "a"}, {"features": (5, None)}, "holds 'features' of shape 4x3 where 5x\\* was expected"),
])
def test_an_entry_that_is_not_what_was_asked_for_is_recomputed_with_one_warning(config, expect, why):
    calls = []
    path = cache_path("features", "k", ".npz")
    cached_arrays(path, _compute(calls), config={"model": "a"})

    def compute():
        calls.append(2)
        return {"features": np.ones((5, 3), np.float32)}

    with pytest.warns(CacheMissWarning, match=rf"cache entry {path}.* {why}; recomputing") as caught:
        cached_arrays(path, compute, config=config, expect=expect)
    assert calls == [1, 2] and len(caught) == 1
    with warnings.catch_warnings():  # the replacement is now what was asked for: a plain hit
        warnings.simplefilter("error")
        cached_arrays(path, compute, config=config, expect=expect)


def test_a_foreign_or_truncated_file_is_recomputed():
    path = cache_path("features", "k", ".npz")
    save_npz(path, {"features": np.zeros((4, 3))})  # no record: written by something else
    calls = []
    with pytest.warns(CacheMissWarning, match="no record"):
        cached_arrays(path, _compute(calls))
    path.write_bytes(path.read_bytes()[:40])
    with pytest.warns(CacheMissWarning, match="unreadable"):
        cached_arrays(path, _compute(calls))
    assert calls == [1, 1] and load_npz(path)["features"].shape == (4, 3)


def test_nested_stages_keep_their_own_costs():
    record = Provenance(profile="smoke", data={})
    path = cache_path("features", "k", ".npz")
    cached_arrays(path, _compute([]))
    with record.timed("outer") as outer:
        cached_arrays(path, _compute([]))  # a hit inside...
        with measure() as inner:
            sum(range(10**5))  # ...and own work
    assert outer.cache == "partly cached" or outer.cache == "cached"
    assert inner.cache == "computed" and outer.seconds >= inner.seconds
    assert set(record.as_dict()["stages"]["outer"]) >= {"seconds", "compute_s", "cache", "peak_mb", "origin"}


def test_a_result_is_dirty_only_when_tracked_sources_differ(tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@t")
    git("config", "user.name", "t")
    (tmp_path / "gssd_utils").mkdir()
    (tmp_path / "gssd_utils" / "x.py").write_text("a = 1\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "r.json").write_text("{}\n")
    git("add", ".")
    git("commit", "-qm", "start")
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)
    (tmp_path / "results" / "r.json").write_text('{"new": 1}\n')  # a build refreshing results is not a code change
    assert not provenance.git_commit().endswith("-dirty")
    (tmp_path / "gssd_utils" / "x.py").write_text("a = 2\n")
    assert provenance.git_commit().endswith("-dirty")


def test_a_stage_read_back_from_its_record_reports_the_figure_it_was_computed_with(monkeypatch):
    # 6.8504 s shown at one decimal is 6.9, but stored at two (6.85) and shown again it reads 6.8: the stage
    # keeps the stored precision from the start, so both readings agree
    clock = iter([100.0, 106.8504])
    monkeypatch.setattr(provenance.time, "perf_counter", lambda: next(clock))
    with measure() as stage:
        pass
    stored = json.loads(json.dumps(stage.as_dict()))
    assert round(stored["compute_s"], 1) == round(stage.compute_s, 1)
