"""The sweep: jobs through submitit's local executor, a killed job resumed, concurrent writers to one cache key,
and a book that, after a sweep, trained nothing."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from gssd_utils.experiments.sweep import Job, Sweep, book_jobs, grid_jobs, is_done, launch, run_job, wave
from gssd_utils.profiles import get_profile

ROOT = Path(__file__).resolve().parents[1]
TINY = ("ssl.epochs=3", "ssl.batch_size=64", "flows.epochs=2", "classifier.epochs=2")


def test_the_job_list_is_what_the_notebooks_read():
    profile = get_profile("quick")
    jobs = book_jobs(profile)
    labels = {job.label() for job in jobs}
    for attack in profile.attacks:
        for task in (*profile.table1_defenses, "knn", "energy"):
            assert f"{attack}@paper:{task}" in labels
    assert {f"{a}@paper:table4" for a in profile.attacks if a in profile.table4_attacks} <= labels
    # Table 2's rates: the paper rate is the run above, not a second one
    assert "badnets@0.01:gssd" in labels and "badnets@0.1:gssd" not in labels
    # the clean-data control: no defense and each cleansing defense of the book, once per control seed
    assert {f"clean@paper#seed{s}:{t}" for s in profile.control_seeds for t in ("none", "gssd", "knn", "energy")
            } <= labels
    # the reused models come first: no job of the second wave before the last of the first
    waves = [wave(job.task) for job in jobs]
    assert waves == sorted(waves)


def test_a_grid_refuses_unknown_tasks():
    with pytest.raises(ValueError, match="unknown task nope; choose from none, nad, finetune"):
        grid_jobs(get_profile("smoke"), ["badnets"], [None], ["nope"])


def _write_same_key(path: str, queue) -> None:
    from gssd_utils.cache import cached_arrays

    arrays = cached_arrays(Path(path), lambda: (time.sleep(0.5), {"x": np.arange(1000.0)})[1], config={"k": 1})
    queue.put(float(arrays["x"].sum()))


def test_two_processes_writing_one_cache_key_leave_one_whole_entry(tmp_path):
    from gssd_utils.atomic_io import load_npz

    path = tmp_path / "cache" / "features" / "same.npz"
    queue = multiprocessing.get_context("spawn").Queue()
    workers = [multiprocessing.get_context("spawn").Process(target=_write_same_key, args=(str(path), queue))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert queue.get() == queue.get() == float(np.arange(1000.0).sum())
    assert load_npz(path)["x"].sum() == np.arange(1000.0).sum()  # one whole entry, readable
    assert [p.name for p in path.parent.iterdir()] == ["same.npz"]  # no temporary left behind


@pytest.mark.slow
def test_jobs_run_two_at_a_time_through_submitit_and_are_skipped_once_done(tmp_path):
    sweep = Sweep("smoke", TINY)
    jobs = grid_jobs(sweep.resolved(), ["badnets", "blend"], [None], ["none"])
    summaries = launch(sweep, jobs, "local", tmp_path / "logs" / "%j", max_parallel=2)
    assert sorted(s["job"] for s in summaries) == ["badnets@paper:none", "blend@paper:none"]
    assert all(is_done(sweep, job) for job in jobs)
    assert launch(sweep, jobs, "local", tmp_path / "logs" / "%j", max_parallel=2) == []


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_a_job_killed_mid_training_resumes_to_the_same_split(tmp_path, monkeypatch):
    from gssd_utils.experiments.runs import AttackRun

    sweep = Sweep("smoke", (*TINY[1:], "ssl.epochs=6"))
    job = Job("badnets", None, "gssd")
    monkeypatch.setenv("GSSD_CACHE", str(tmp_path / "killed"))
    import submitit

    executor = submitit.LocalExecutor(folder=str(tmp_path / "logs" / "%j"))
    executor.update_parameters(timeout_min=30)
    from gssd_utils.experiments.sweep import JobRunner

    submitted = executor.submit(JobRunner(), sweep, job)
    simclr = tmp_path / "killed" / "ssl"
    deadline = time.time() + 600
    while not (simclr.is_dir() and any(simclr.glob("*.pt"))):  # a first epoch checkpointed
        assert time.time() < deadline and not submitted.done(), "the job neither checkpointed nor kept running"
        time.sleep(0.5)
    for pid in [*_children(int(submitted.job_id)), int(submitted.job_id)]:
        os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    assert not is_done(sweep, job)
    epochs = __import__("gssd_utils.atomic_io", fromlist=["load_torch"]).load_torch(next(simclr.glob("*.pt")))["epoch"]
    assert 1 <= epochs < 6  # killed part-way
    resumed = executor.submit(JobRunner(), sweep, job).result()
    assert resumed["cache"] == "partly cached" and is_done(sweep, job)
    killed_split = AttackRun(sweep.resolved(), "badnets", progress=False).gssd().split.clean_indices
    monkeypatch.setenv("GSSD_CACHE", str(tmp_path / "uninterrupted"))
    run_job(sweep, job)
    np.testing.assert_array_equal(AttackRun(sweep.resolved(), "badnets", progress=False).gssd().split.clean_indices,
                                  killed_split)


def test_the_book_after_a_sweep_trained_nothing():
    """CI sweeps the smoke profile, then builds the smoke book: every stage of every chapter must be a cache hit,
    but loading the data and poisoning (cheap, and what the cache is keyed by)."""
    if not os.environ.get("GSSD_SWEPT"):
        pytest.skip("set GSSD_SWEPT=1 after `gssd sweep --profile smoke` and `make book PROFILE=smoke` (CI does)")
    folder = ROOT / "_build" / "results" / "smoke"
    records = {p.name: json.loads(p.read_text()) for p in folder.glob("*.json")}
    assert records, f"no results in {folder}"
    trained = [f"{name}: {stage}" for name, record in records.items()
               for stage, cost in record["provenance"]["stages"].items()
               if stage != "load data" and not stage.endswith(": poison") and cost["cache"] != "cached"]
    assert not trained, f"stages the book computed although the sweep had: {trained}"
