"""The book's runs fanned out over a SLURM cluster or local GPUs with submitit; the shared cache is where they meet.

``book_jobs(profile)`` is the one list of what the notebooks at a profile compute: for every attack of the profile,
each defense of Table 1 and of the cleansing chapter, and the Table 3 and Table 4 trainings; the poisoning rates of
Table 2; the clean-data control's defenses on the unpoisoned set, once per control seed. The notebooks read the
same profile fields, so after a sweep the book only reads the cache.

A job computes one (attack, rate, task) and everything the chapters will ask of it. Every stage is checkpointed per
epoch and written atomically (write, then rename), so a job that dies leaves nothing that is later trusted, and a
requeued or re-submitted one resumes where it stopped. Jobs run in two waves: first those that train a model others
reuse (the no-defense classifier, GSSD's SSL model), then the tasks that reuse them, so no model is trained twice by
two jobs at once. Jobs already done are skipped.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gssd_utils.attacks.clean import Clean
from gssd_utils.data.registry import planned_train_size
from gssd_utils.defenses.registry import defense_names, get_defense_class
from gssd_utils.profiles import Profile, resolve

# the trainings beyond one defense: Table 3 (supervised features, GSSD on the other registered SSL methods) and
# Table 4 (the fine-tuning ablation), both reusing the no-defense model and GSSD's SSL model
TABLES = ("table3", "table4")


def task_names() -> tuple[str, ...]:
    """What a job can compute: every registered defense's run (Table 1's first, in its order), and the Table 3 and
    Table 4 trainings."""
    return (*defense_names(), *TABLES)


def wave(task: str) -> int:
    """1 for a task that trains what others reuse, 2 for one that reuses them (``Defense.reuses``, the tables)."""
    return 2 if task in TABLES or get_defense_class(task).reuses else 1


@dataclass(frozen=True)
class Job:
    """One unit of work: an attack's poisoned set at a rate (None: the attack's paper rate), and a task on it — a
    defense's run, or the Table 3 / Table 4 trainings that go beyond one."""

    attack: str
    rate: float | None
    task: str
    train_seed: int | None = None  # None: the sweep's; the clean-data control runs one job per control seed

    def label(self) -> str:
        seed = "" if self.train_seed is None else f"#seed{self.train_seed}"
        return f"{self.attack}@{'paper' if self.rate is None else f'{self.rate:g}'}{seed}:{self.task}"


@dataclass(frozen=True)
class Sweep:
    """What every job shares: the profile with its settings and seeds, and where the data lie."""

    profile: str
    settings: tuple[str, ...] = ()
    train_seed: int = 0
    poison_seed: int = 0
    target: int = 0
    data_root: str | None = None

    def resolved(self) -> Profile:
        return resolve(self.profile, self.settings, self.train_seed)


def book_jobs(profile: Profile) -> list[Job]:
    """Every run the book's notebooks compute at ``profile`` (they read these same fields), each once."""
    jobs: list[Job] = []
    for attack in profile.attacks:
        tasks = [*profile.table1_defenses, "knn", "energy"] if attack in profile.comparison_attacks else ["none"]
        jobs += [Job(attack, None, task) for task in dict.fromkeys([*tasks, "gssd"])]
        jobs += [Job(attack, None, table) for table, attacks in (("table3", profile.table3_attacks),
                                                                 ("table4", profile.table4_attacks))
                 if attack in attacks]
    jobs += [Job(attack, rate, task) for rate in profile.rates for attack in profile.rate_attacks
             for task in ("none", "gssd")]
    control = [d for d in profile.table1_defenses if get_defense_class(d).sets_aside]
    jobs += [Job(Clean.name, None, task, seed) for seed in profile.control_seeds for task in ("none", *control)]
    return _unique(profile, jobs)


def grid_jobs(profile: Profile, attacks: Sequence[str], rates: Sequence[float | None], tasks: Sequence[str],
              train_seeds: Sequence[int | None] = (None,)) -> list[Job]:
    """Every combination of the given attacks, rates, tasks (a task is a defense, table3 or table4) and train seeds
    (None: the sweep's), e.g. Table 1's spread: every defense on one attack over three seeds."""
    unknown = sorted(set(tasks) - set(task_names()))
    if unknown:
        raise ValueError(f"unknown task {', '.join(unknown)}; choose from {', '.join(task_names())}")
    return _unique(profile, [Job(a, r, t, s) for a in attacks for r in rates for t in tasks for s in train_seeds])


def _unique(profile: Profile, jobs: Sequence[Job]) -> list[Job]:
    """Jobs once each (a rate equal to the attack's paper rate counts as that rate), wave by wave."""
    seen, unique = set(), []
    for job in sorted(jobs, key=lambda j: wave(j.task)):
        identity = (job.attack, profile.poison_config(job.attack, job.rate).resolved_rate(), job.task, job.train_seed)
        if identity not in seen:
            seen.add(identity)
            unique.append(job)
    return unique


def _marker(sweep: Sweep, job: Job) -> Path:
    from gssd_utils.cache import cache_path, config_key

    return cache_path("sweep", config_key(dataclasses.asdict(sweep.resolved()), sweep.poison_seed, sweep.target,
                                          dataclasses.asdict(job)), ".json")


def is_done(sweep: Sweep, job: Job) -> bool:
    """Whether ``job`` has run to its end with these settings (its record is written last, atomically)."""
    return _marker(sweep, job).is_file()


def run_job(sweep: Sweep, job: Job) -> dict[str, Any]:
    """Compute ``job`` and everything the chapters ask of it; every stage lands in the cache. Returns its cost."""
    from gssd_utils.atomic_io import save_json
    from gssd_utils.experiments.ablations import (
        finetune_ablation,
        finetune_anatomy,
        norm_statistics_path,
        other_ssl_results,
        supervised_features_result,
    )
    from gssd_utils.experiments.features import (
        dbd_first_split,
        embedding_shift,
        generative_accuracy,
        knn_health,
        run_umap,
    )
    from gssd_utils.experiments.runs import AttackRun
    from gssd_utils.provenance import Provenance

    profile = sweep.resolved()
    if job.train_seed is not None:
        profile = profile.with_train_seed(job.train_seed)
    record = Provenance(profile=profile.name, data={})
    with record.timed(job.label()) as stage:
        run = AttackRun(profile, job.attack, job.rate, sweep.target, sweep.poison_seed, data_root=sweep.data_root,
                        progress=False)
        if job.task == "table4":
            finetune_ablation(run)
            finetune_anatomy(run)
            norm_statistics_path(run)
        elif job.task == "table3":
            supervised_features_result(run)
            other_ssl_results(run)
        else:
            run.result(job.task)
            if job.task == "gssd":  # what chapters 2-6 read beside the result
                knn_health(run)
                generative_accuracy(run)
                run_umap(run, sweep.train_seed)
                if (run.truth.original_labels >= 0).any():
                    embedding_shift(run)
                paper_rate = profile.poison_config(job.attack, None).resolved_rate()
                if job.attack in profile.comparison_attacks and run.rate == paper_rate:
                    dbd_first_split(run)  # chapter 6 shows it for every attack of Table 1, whichever defenses run
    summary = {"job": job.label(), "compute_s": round(stage.compute_s, 1), "seconds": round(stage.seconds, 1),
               "cache": stage.cache, "device": record.device, "host": record.host}
    save_json(_marker(sweep, job), summary)
    return summary


class JobRunner:
    """The callable submitit runs. On preemption or timeout it is resubmitted as it was: its stages resume from their
    per-epoch checkpoints, so only the epoch that was cut is computed again."""

    def __call__(self, sweep: Sweep, job: Job) -> dict[str, Any]:
        return run_job(sweep, job)

    def checkpoint(self, sweep: Sweep, job: Job):
        import submitit

        return submitit.helpers.DelayedSubmission(JobRunner(), sweep, job)


def estimate(profile: Profile, jobs: Sequence[Job], bench: dict | None) -> list[dict[str, Any]]:
    """Per job, the images each network trains on (each defense's ``work``); with ``bench`` — a ``gssd bench``
    record from the machine that will run them — the hours. Without it the hours are left out, not guessed. A model
    shared by several jobs is counted once, in the job that trains it. The training set's size is the profile's
    subset, else the data set's (``planned_train_size``; CIFAR-10's 50,000 for data not on this machine)."""
    total = profile.n_train or planned_train_size(profile.dataset) or 50_000
    n = round(total * (1 - profile.clean_reserve))
    reserve = round(total * profile.clean_reserve)
    work = {task: _table_work(profile, task, n) if task in TABLES else get_defense_class(task).work(profile, n, reserve)
            for task in dict.fromkeys(job.task for job in jobs)}
    rates = {row["stage"]: row["rate"] for row in bench["rows"]} if bench else {}
    rows = []
    for job in jobs:
        images = work[job.task]
        row = {"job": job.label(), "wave": wave(job.task),
               **{f"{k} images": v for k, v in images.items()}}
        if rates:
            row["hours"] = round(sum(v / rates[k] for k, v in images.items()) / 3600, 2)
        rows.append(row)
    return rows


def _table_work(profile: Profile, task: str, n: int) -> dict[str, int]:
    """Table 4 trains classifiers; Table 3 one on the supervised features and, per other registered SSL method,
    that method's model and GSSD's retraining on it."""
    from gssd_utils.ssl.registry import METHODS

    others = len(METHODS) - 1 if task == "table3" else 0
    return {"classifier": n * profile.classifier.epochs * (1 + others), **({"SSL": n * profile.ssl.epochs * others}
                                                                          if others else {})}


def launch(sweep: Sweep, jobs: Sequence[Job], executor: str, folder: str | Path, max_parallel: int,
           gpus_per_job: int = 0, partition: str | None = None, time_min: int = 24 * 60,
           gpus: Sequence[int] = ()) -> list[dict[str, Any]]:
    """Submit the ``jobs`` not yet done, wave by wave, and wait for them; returns each job's summary.

    SLURM: one job array per wave, at most ``max_parallel`` running. Local: at most ``max_parallel`` jobs at a time
    (one per GPU of ``gpus`` when given, each seeing only its own GPU).
    """
    summaries: list[dict[str, Any]] = []
    for number in (1, 2):
        todo = [job for job in jobs if wave(job.task) == number and not is_done(sweep, job)]
        if not todo:
            continue
        if executor == "slurm":
            summaries += _slurm(sweep, todo, folder, max_parallel, gpus_per_job, partition, time_min)
        else:
            summaries += _local(sweep, todo, folder, max_parallel, time_min, gpus)
    return summaries


def _slurm(sweep: Sweep, jobs: list[Job], folder: str | Path, max_parallel: int, gpus_per_job: int,
           partition: str | None, time_min: int) -> list[dict[str, Any]]:
    import submitit

    executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    executor.update_parameters(name="gssd", timeout_min=time_min, gpus_per_node=gpus_per_job,
                               slurm_partition=partition, slurm_array_parallelism=max_parallel)
    return [job.result() for job in executor.map_array(JobRunner(), [sweep] * len(jobs), jobs)]


def _local(sweep: Sweep, jobs: list[Job], folder: str | Path, max_parallel: int, time_min: int,
           gpus: Sequence[int]) -> list[dict[str, Any]]:
    """At most one job per slot; a slot is a GPU when ``gpus`` are given, else one of ``max_parallel`` CPU slots, and
    then each job gets its share of the cores (more threads than cores makes every job slower)."""
    import submitit

    slots = list(gpus) if gpus else list(range(max_parallel))
    free, queue, running, summaries = list(slots), list(jobs), {}, []
    while queue or running:
        while queue and free:
            slot = free.pop(0)
            executor = submitit.LocalExecutor(folder=str(folder))
            threads = () if gpus else (f"export OMP_NUM_THREADS={max(1, (os.cpu_count() or 1) // len(slots))}",)
            executor.update_parameters(timeout_min=time_min, gpus_per_node=1 if gpus else 0,
                                       visible_gpus=[slot] if gpus else (), setup=threads)
            running[executor.submit(JobRunner(), sweep, queue.pop(0))] = slot
        done = [job for job in running if job.done()]
        for job in done:
            free.append(running.pop(job))
            summaries.append(job.result())
        if not done:
            time.sleep(0.5)
    return summaries
