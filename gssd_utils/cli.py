"""The ``gssd`` command line: list attacks and defenses, write a poisoned data set, run the book's experiments,
defend a user's own data set.

Every input is checked before the first expensive step. An expected failure is one line naming the problem and
the fix, with exit code 2 for bad input, 1 for a failure while running and 130 for Ctrl-C; ``--debug`` adds the
traceback. Only the standard library is imported here, so ``gssd --help`` and ``gssd attacks`` answer at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from gssd_utils.data.memory import DataTooLargeError
from gssd_utils.failures import RunFailure

BAD_INPUT, FAILED, INTERRUPTED = 2, 1, 130
# = profiles.PROFILE_NAMES (tested), copied so that the parser is built without importing the profiles
PROFILES = ("smoke", "quick", "paper", "paper-dryrun", "paper-imagenet30", "paper-vggface2")


# ---- shared checks ----------------------------------------------------------------------------------------


def _profile(args: argparse.Namespace):
    from gssd_utils.profiles import resolve

    return resolve(args.profile, args.set, args.train_seed)


def _output_folder(path: str, option: str = "--out") -> Path:
    """``path`` as a writable folder (created if missing), or a clear error naming ``option``."""
    out = Path(path)
    for part in (out, *out.parents):
        if part.exists() and not part.is_dir():
            raise NotADirectoryError(f"{option} {path}: {part} is a file, not a folder. Fix: choose a folder for "
                                     f"{option} (it is created when missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermissionError(f"{option} {path}: cannot create it ({exc.strerror}). Fix: choose a folder you can "
                              "write") from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(f"{option} {path}: not writable. Fix: choose a folder you can write")
    return out


def _attack_params(pairs: Sequence[str]) -> dict:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--param expects NAME=VALUE, got {pair!r}")
        try:
            params[name] = json.loads(value)
        except json.JSONDecodeError:
            params[name] = value
    return params


def _print_table(table, paths: Sequence[Path]) -> None:
    print(table.to_string(index=False))
    print("wrote " + ", ".join(map(str, paths)), file=sys.stderr)


# ---- commands -------------------------------------------------------------------------------------------------


def _cmd_attacks(_: argparse.Namespace) -> None:
    from gssd_utils.attacks import attack_names, get_attack_class

    for name in attack_names():
        cls = get_attack_class(name)
        print(f"{name:12s} default rate {cls.default_rate:>5.1%}  {cls.summary}")


def _cmd_defenses(_: argparse.Namespace) -> None:
    from gssd_utils.defenses.registry import defense_names, get_defense_class

    for name in defense_names():
        cls = get_defense_class(name)
        traits = [t for t, has in (("needs clean data", cls.uses_clean_data), ("sets samples aside", cls.sets_aside),
                                   (f"starts from {', '.join(cls.reuses)}'s models", cls.reuses)) if has]
        notes = f" ({'; '.join(traits)})" if traits else ""
        print(f"{name:9s} {cls.display:13s} {cls.summary}{notes}")


def _cmd_datasets(_: argparse.Namespace) -> None:
    from gssd_utils.data import DATASETS

    for spec in DATASETS.values():
        print(f"{spec.name:12s} {spec.num_classes:3d} classes {spec.image_size:4d} px  {spec.about}")
    print("or any image folder (train/<class>/, test/<class>/) or .npz by its path")


def _cmd_ssl_methods(_: argparse.Namespace) -> None:
    from gssd_utils.ssl.registry import METHODS

    for name, cls in METHODS.items():
        print(f"{name:9s} {cls.display:8s} {cls.summary}")


def _cmd_poison(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from gssd_utils.attacks import make_config, poison_dataset

    profile = _profile(args)
    out = _output_folder(args.out)
    base = profile.poison_config(args.attack, args.rate, args.target, args.poison_seed)
    config = replace(base, rate_base=args.rate_base, params={**base.params, **_attack_params(args.param)})
    make_config(config.attack, config.params)  # refuses unknown attacks and parameters before loading the data
    poison_dataset(profile.load_data(args.data_root), config).save(out)
    print(f"wrote {out}/data.npz (poisoned set), truth.npz (ground truth, for evaluation only), "
          "trigger.npz and attack.json", file=sys.stderr)


def _experiment_runs(args: argparse.Namespace, profile, rates: Sequence[float | None]):
    """The runs a results command computes, checked before any of them starts."""
    from gssd_utils.attacks import get_attack_class
    from gssd_utils.cache import check_cache_root
    from gssd_utils.experiments.runs import AttackRun
    from gssd_utils.provenance import Provenance

    attacks = args.attacks or list(profile.attacks)
    for attack in attacks:
        get_attack_class(attack)
    check_cache_root()
    out = _output_folder(args.out) if args.out else None
    provenance = Provenance(profile=profile.name, data={})
    with provenance.timed("load data"):
        data = profile.load_data(args.data_root)
    runs = []
    for rate in rates:
        for attack in attacks:
            with provenance.timed(f"{attack} @ {rate}: poison"):
                runs.append(AttackRun(profile, attack, rate, args.target, args.poison_seed, data))
    provenance.data = runs[0].clean.identity()
    return runs, provenance, out


def _results_folder(out: Path | None, profile) -> Path:
    from gssd_utils.results_io import build_dir

    return out or build_dir(profile.name)


def _cmd_no_defense(args: argparse.Namespace) -> None:
    import pandas as pd

    from gssd_utils.experiments.tables import no_defense_row
    from gssd_utils.results_io import write_results

    if args.rates and args.rate is not None:
        raise ValueError("give either --rate or --rates, not both")
    profile = _profile(args)
    runs, provenance, out = _experiment_runs(args, profile, args.rates or [args.rate])
    with provenance.timed("no defense"):
        table = pd.DataFrame([no_defense_row(run) for run in runs])
    _print_table(table, write_results(table, provenance, _results_folder(out, profile), "no_defense",
                                      settings=profile.describe()))


def _cmd_evaluate(args: argparse.Namespace) -> None:
    import pandas as pd

    from gssd_utils.experiments.ablations import finetune_anatomy, norm_statistics_table
    from gssd_utils.experiments.tables import gssd_details, gssd_row
    from gssd_utils.results_io import write_results

    profile = _profile(args)
    runs, provenance, out = _experiment_runs(args, profile, [args.rate])
    with provenance.timed("gssd and no defense"):
        table = pd.DataFrame([gssd_row(run) for run in runs])
    details = {run.attack: gssd_details(run) for run in runs}
    folder = _results_folder(out, profile)
    _print_table(table, write_results(table, provenance, folder, "gssd", details, settings=profile.describe()))
    with provenance.timed("fine-tuning anatomy"):
        anatomy = pd.DataFrame([finetune_anatomy(run) for run in runs])
    _print_table(anatomy, write_results(anatomy, provenance, folder, "finetune_anatomy",
                                        settings=profile.describe()))
    with provenance.timed("batch-norm statistics path"):
        path = norm_statistics_table(runs)
    _print_table(path, write_results(path, provenance, folder, "finetune_norm_path", settings=profile.describe()))


def _check_defenses(runs: Sequence, defenses: Sequence[str]) -> None:
    """Every (run, defense) checked before the first one trains, so bad input stops the command at once."""
    from gssd_utils.defenses.registry import build_defense

    for run in runs:
        for name in defenses:
            build_defense(name, run.profile.defense_config(name), run.profile.classifier).check(run.defense_input(name))


def _defended_runs(args: argparse.Namespace, profile, defenses: Sequence[str]):
    """A results command's runs, its defenses resolved and every (run, defense) checked before any trains."""
    from gssd_utils.defenses.registry import get_defense_class

    for name in defenses:
        get_defense_class(name)
    runs, provenance, out = _experiment_runs(args, profile, [args.rate])
    _check_defenses(runs, defenses)
    return runs, provenance, out


def _tables_as_they_come(runs: Sequence, provenance, label, table_of, write) -> None:
    """``table_of(run)`` for each run, timed as ``label(run)``; after each, every table so far is written by
    ``write(table, runs_done)``, so a long command keeps what it finished."""
    import pandas as pd

    tables = []
    for run in runs:
        with provenance.timed(label(run)):
            tables.append(table_of(run))
        table = pd.concat(tables, ignore_index=True)
        paths = write(table, runs[:len(tables)])
    _print_table(table, paths)


def _cmd_compare(args: argparse.Namespace) -> None:
    from gssd_utils.experiments.spread import seed_file_name
    from gssd_utils.experiments.tables import TABLE1_DEFENSES, comparison_table
    from gssd_utils.results_io import FULL_COMPARISON, write_results

    profile = _profile(args)
    defenses = args.defenses or list(TABLE1_DEFENSES)
    runs, provenance, out = _defended_runs(args, profile, defenses)
    for seed in args.train_seeds or [args.train_seed]:
        seeded = [run.with_train_seed(seed) for run in runs]
        _tables_as_they_come(
            seeded, provenance, lambda run, seed=seed: f"{run.attack}, train seed {seed}: {len(defenses)} defenses",
            lambda run: comparison_table([run], defenses),
            lambda table, done, seed=seed: write_results(
                table, provenance, _results_folder(out, profile), seed_file_name(args.name or FULL_COMPARISON, seed),
                {r.attack: {d: r.result(d).details for d in defenses} for r in done},
                settings=done[0].profile.describe()))


def _cmd_curves(args: argparse.Namespace) -> None:
    from gssd_utils.experiments.curves import CURVE_DEFENSES, CURVES_NAME, stage_curves
    from gssd_utils.results_io import write_results

    profile = _profile(args)
    defenses = args.defenses or list(CURVE_DEFENSES)
    runs, provenance, out = _defended_runs(args, profile, defenses)
    _tables_as_they_come(
        runs, provenance, lambda run: f"{run.attack}: curves of {', '.join(defenses)}",
        lambda run: stage_curves(run, defenses),
        lambda table, _done: write_results(table, provenance, _results_folder(out, profile), args.name or CURVES_NAME,
                                           settings=profile.describe()))


def _cmd_control(args: argparse.Namespace) -> None:
    import pandas as pd

    from gssd_utils.cache import check_cache_root
    from gssd_utils.defenses.registry import get_defense_class
    from gssd_utils.experiments.control import CONTROL_DEFENSES, control_runs, control_summary, control_table
    from gssd_utils.provenance import Provenance
    from gssd_utils.results_io import write_results

    profile = _profile(args)
    defenses = args.defenses or list(CONTROL_DEFENSES)
    for name in defenses:
        get_defense_class(name)
    check_cache_root()
    out = _results_folder(_output_folder(args.out) if args.out else None, profile)
    provenance = Provenance(profile=profile.name, data={})
    with provenance.timed("load data"):
        runs = control_runs(profile, args.train_seeds, data_root=args.data_root)
    provenance.data = runs[0].clean.identity()
    _check_defenses(runs, ("none", *defenses))
    tables = []
    for run in runs:
        with provenance.timed(f"train seed {run.profile.train_seed}: {len(defenses)} defenses"):
            tables.append(control_table([run], defenses))
        table = pd.concat(tables, ignore_index=True)
        paths = write_results(table, provenance, out, args.name, {"summary": control_summary(table).to_dict("records")},
                              settings=profile.describe())
    _print_table(control_summary(table), paths)


def _cmd_bench(args: argparse.Namespace) -> None:
    from gssd_utils.experiments.bench import run_benchmark
    from gssd_utils.provenance import Provenance
    from gssd_utils.results_io import write_results

    profile = _profile(args)
    provenance = Provenance(profile=profile.name, data={"name": "random images of the profile's shapes"})
    with provenance.timed("benchmark"):
        table = run_benchmark(profile, batches=args.batches)
    print(f"{provenance.device}; torch {provenance.torch_version}; commit {provenance.commit[:12]}")
    print(profile.describe())
    print(table.to_string(index=False))
    if args.out:
        paths = write_results(table, provenance, _output_folder(args.out), f"bench_{profile.name}",
                              settings=profile.describe())
        print("wrote " + ", ".join(map(str, paths)), file=sys.stderr)


def _cmd_step_check(args: argparse.Namespace) -> None:
    from gssd_utils.experiments.step_check import step_check

    profile = _profile(args)
    print(profile.describe())
    table = step_check(profile, train_per_class=args.per_class, echo=lambda line: print(line, flush=True))
    print(f"{table.attrs['device']}; every stage ran one step at the batch shown")
    print(table.to_string(index=False))


def _cmd_recipes(args: argparse.Namespace) -> None:
    from gssd_utils.experiments.recipes import recipe_curves, recipe_throughput

    out = _output_folder(args.out)
    table = (recipe_throughput(args.recipes, out) if args.throughput
             else recipe_curves(args.recipes, out, args.rate, args.data_root))
    print(table.to_string(index=False))


def _cmd_sweep(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    from gssd_utils.attacks import make_config
    from gssd_utils.cache import check_cache_root
    from gssd_utils.experiments import sweep as sweeps
    from gssd_utils.results_io import reference_dir

    profile = _profile(args)
    plan = sweeps.Sweep(args.profile, tuple(args.set), args.train_seed, args.poison_seed, args.target, args.data_root)
    if args.attacks or args.rates or args.tasks or args.train_seeds:
        jobs = sweeps.grid_jobs(profile, args.attacks or list(profile.attacks), args.rates or [None],
                                args.tasks or ["gssd"], args.train_seeds or [None])
    else:
        jobs = sweeps.book_jobs(profile)
    for job in jobs:  # every attack and its settings known before anything is submitted
        make_config(job.attack, profile.attack_params.get(job.attack))
    check_cache_root()
    done = [job for job in jobs if sweeps.is_done(plan, job)]
    if args.dry_run:
        bench_path = Path(args.bench) if args.bench else reference_dir(profile.name) / f"bench_{profile.name}.json"
        bench = json.loads(bench_path.read_text()) if bench_path.is_file() else None
        rows = sweeps.estimate(profile, jobs, bench)
        for row in rows:
            row["done"] = any(job.label() == row["job"] for job in done)
        for row in rows:
            print(json.dumps(row))
        total = sum(row.get("hours", 0.0) for row in rows if not row["done"])
        source = (f"at the rates of {bench_path} ({bench['provenance']['device']})" if bench else
                  f"no hours: no bench figures at {bench_path}; run `gssd bench --profile {profile.name} --out "
                  f"results/{profile.name}` on the machine that will run the jobs")
        print(f"{len(jobs)} jobs, {len(done)} done; {total:.1f} device-hours to go, {source}", file=sys.stderr)
        return
    print(f"{len(jobs) - len(done)} of {len(jobs)} jobs to run ({args.executor}); settings {asdict(plan)}",
          file=sys.stderr)
    gpus = [int(g) for g in args.gpus.split(",")] if args.gpus else []
    for summary in sweeps.launch(plan, jobs, args.executor, args.folder, args.max_parallel, args.gpus_per_job,
                                 args.partition, args.time, gpus):
        print(json.dumps(summary))


def _cmd_book_progress(args: argparse.Namespace) -> None:
    from gssd_utils.make import progress

    if args.keep_reference:
        progress.keep_reference_timings(args.profile)
    elif args.took is not None:
        progress.record(args.profile, args.notebook, args.took)
    else:
        print(progress.announce(args.profile, args.notebook, args.notebooks), flush=True)


def _cmd_defend(args: argparse.Namespace) -> None:
    from gssd_utils.defend_dataset import DefendRequest, defend_dataset

    request = DefendRequest(args.defense, Path(args.data), Path(args.clean) if args.clean else None,
                            Path(args.truth) if args.truth else None, args.target, args.train, tuple(args.set),
                            args.image_size)
    defend_dataset(request, _profile(args), _output_folder(args.out))


# ---- the parser ---------------------------------------------------------------------------------------------


class _Parents(NamedTuple):
    """The option groups commands share: --debug; the profile and its settings; the poisoned experiment."""

    debug: argparse.ArgumentParser
    settings: argparse.ArgumentParser
    experiment: argparse.ArgumentParser


def _parents() -> _Parents:
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", help="show the traceback of a failure")

    settings = argparse.ArgumentParser(add_help=False, parents=[debug])
    settings.add_argument("--profile", choices=PROFILES, default="quick", help="scale of every default (quick)")
    settings.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                          help="change any setting of the profile, e.g. --set ssl.batch_size=128 --set "
                               "flows.lr=1e-4 --set classifier.epochs=3 --set defenses.nad.epochs=5 (repeatable)")
    settings.add_argument("--train-seed", type=int, default=0, help="shifts the seed of every model trained (0)")

    experiment = argparse.ArgumentParser(add_help=False, parents=[settings])
    experiment.add_argument("--data-root", default=None, help="folder holding the registered data sets "
                            "(cifar-10-batches-py/, imagenet30/, vggface2_30/; default $GSSD_DATA, else ./data)")
    experiment.add_argument("--rate", type=float, default=None, help="poisoning rate (default: the attack's)")
    experiment.add_argument("--target", type=int, default=0)
    experiment.add_argument("--poison-seed", type=int, default=0, help="picks the poisoned images and the trigger")
    return _Parents(debug, settings, experiment)


_RESULTS = "results folder (default _build/results/<profile>; results/<profile> refreshes the committed ones)"


def _listing_command(sub, parents: _Parents) -> None:
    """gssd attacks, defenses, datasets, ssl-methods: the registries"""
    sub.add_parser("attacks", help="list the registered attacks",
                   parents=[parents.debug]).set_defaults(func=_cmd_attacks)
    sub.add_parser("defenses", help="list the registered defenses",
                   parents=[parents.debug]).set_defaults(func=_cmd_defenses)
    sub.add_parser("datasets", help="list the registered data sets",
                   parents=[parents.debug]).set_defaults(func=_cmd_datasets)
    sub.add_parser("ssl-methods", help="list the registered self-supervised methods (--set ssl.method=NAME)",
                   parents=[parents.debug]).set_defaults(func=_cmd_ssl_methods)


def _poison_command(sub, parents: _Parents) -> None:
    """gssd poison: a poisoned set in the bring-your-own format"""
    poison = sub.add_parser("poison", parents=[parents.experiment], help="write a poisoned data set as npz files")
    poison.add_argument("--attack", required=True)
    poison.add_argument("--rate-base", choices=("all", "non_target"), default="all")
    poison.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="attack parameter")
    poison.add_argument("--out", required=True)
    poison.set_defaults(func=_cmd_poison)


def _no_defense_command(sub, parents: _Parents) -> None:
    """gssd no-defense: the classifier trained on the poisoned set"""
    baseline = sub.add_parser("no-defense", parents=[parents.experiment],
                              help="ACC/ASR of a classifier trained on poison")
    baseline.add_argument("--attacks", nargs="*", default=None)
    baseline.add_argument("--rates", nargs="+", type=float, default=None, metavar="RATE",
                          help="several poisoning rates, to find where each attack starts to work at this profile")
    baseline.add_argument("--out", default=None, help=_RESULTS)
    baseline.set_defaults(func=_cmd_no_defense)


def _evaluate_command(sub, parents: _Parents) -> None:
    """gssd evaluate: GSSD against the truth and no defense"""
    evaluate = sub.add_parser("evaluate", parents=[parents.experiment],
                              help="poison with each attack, defend with GSSD, "
                              "measure against the ground truth and the no-defense baseline (the book's Table 1); "
                              "finetune_anatomy crosses the fine-tuned and D_C models' batch-norm statistics, "
                              "finetune_norm_path moves the D_C model's statistics toward the fine-tuned ones")
    evaluate.add_argument("--attacks", nargs="*", default=None)
    evaluate.add_argument("--out", default=None, help=_RESULTS)
    evaluate.set_defaults(func=_cmd_evaluate)


def _compare_command(sub, parents: _Parents) -> None:
    """gssd compare: Table 1"""
    compare = sub.add_parser("compare", parents=[parents.experiment],
                             help="Table 1: several defenses on several attacks, "
                             "ours beside the paper's (written after each attack, so a long run keeps its results)")
    compare.add_argument("--attacks", nargs="*", default=None)
    compare.add_argument("--defenses", nargs="*", default=None, help="registered defenses (default: all of Table 1)")
    compare.add_argument("--train-seeds", nargs="+", type=int, default=None, metavar="SEED",
                         help="one comparison per train seed, the same poisoned set (instead of --train-seed); "
                         "seed N > 0 writes NAME_seedN")
    compare.add_argument("--name", default=None,
                         help="results file name (comparison_all_defenses: the book's Table 1 writes 'comparison')")
    compare.add_argument("--out", default=None, help=_RESULTS)
    compare.set_defaults(func=_cmd_compare)


def _curves_command(sub, parents: _Parents) -> None:
    """gssd curves: a defense's ACC/ASR after every epoch of every stage"""
    curves = sub.add_parser("curves", parents=[parents.experiment],
                            help="ACC and ASR after every epoch of each stage of a defense (DBD, NAD), trained "
                            "afresh in a cache folder of its own")
    curves.add_argument("--attacks", nargs="*", default=["badnets"])
    curves.add_argument("--defenses", nargs="*", default=None, help="registered defenses (default: dbd nad)")
    curves.add_argument("--name", default=None, help="results file name (default: stage_curves)")
    curves.add_argument("--out", default=None, help=_RESULTS)
    curves.set_defaults(func=_cmd_curves)


def _control_command(sub, parents: _Parents) -> None:
    """gssd control: the clean-data control"""
    control = sub.add_parser("control", parents=[parents.settings],
                             help="the clean-data control: the cleansing defenses on "
                             "the unpoisoned training set over train seeds; classes flagged, sacrifice rate, ACC cost")
    control.add_argument("--defenses", nargs="*", default=None, help="registered defenses (default: every one that "
                         "sets samples aside)")
    control.add_argument("--train-seeds", nargs="+", type=int, default=[0, 1, 2], metavar="SEED")
    control.add_argument("--data-root", default=None, help="folder holding cifar-10-batches-py/")
    control.add_argument("--name", default="clean_control_all_defenses",
                         help="results file name (the book's chapter 6 writes 'clean_control')")
    control.add_argument("--out", default=None, help=_RESULTS)
    control.set_defaults(func=_cmd_control)


def _bench_command(sub, parents: _Parents) -> None:
    """gssd bench: per-stage throughput"""
    bench = sub.add_parser("bench", parents=[parents.settings],
                           help="per-stage throughput on this device (a benchmark)")
    bench.add_argument("--batches", type=int, default=10, help="batches per measured epoch")
    bench.add_argument("--out", default=None, help="also write bench_<profile>.{csv,json} with provenance here")
    bench.set_defaults(func=_cmd_bench)


def _recipes_command(sub, parents: _Parents) -> None:
    """gssd recipes: the CPU tier's recipe search"""
    recipes = sub.add_parser("recipes", parents=[parents.debug],
                             help="ACC and 1%% BadNets ASR against training minutes "
                             "for candidate classifier recipes of the CPU tier (hours)")
    recipes.add_argument("recipes", nargs="+", help="recipe names (gssd_utils/experiments/recipes.py)")
    recipes.add_argument("--rate", type=float, default=0.01)
    recipes.add_argument("--throughput", action="store_true", help="only measure each classifier recipe's training "
                         "rate (on an idle machine), to read the curves' minutes at it")
    recipes.add_argument("--data-root", default=None)
    recipes.add_argument("--out", default="results/quick/recipes")
    recipes.set_defaults(func=_cmd_recipes)


def _sweep_command(sub, parents: _Parents) -> None:
    """gssd sweep: the book's runs as jobs"""
    sweep = sub.add_parser("sweep", parents=[parents.experiment], help="run what the book computes at a profile as "
                           "independent jobs on SLURM or local GPUs (submitit); the book then only reads the cache")
    sweep.add_argument("--executor", choices=("local", "slurm"), default="local")
    sweep.add_argument("--attacks", nargs="*", default=None, help="a grid instead of the book's jobs")
    sweep.add_argument("--rates", nargs="*", type=float, default=None)
    sweep.add_argument("--tasks", nargs="*", default=None, help="defenses, table3, table4 (default with a grid: gssd)")
    sweep.add_argument("--train-seeds", nargs="+", type=int, default=None, metavar="SEED",
                       help="the grid once per train seed (Table 1's spread), the same poisoned set")
    sweep.add_argument("--max-parallel", type=int, default=2, help="jobs running at once (SLURM: array parallelism)")
    sweep.add_argument("--gpus", default="", help="local GPUs to use, one job each, e.g. 0,1,2,3")
    sweep.add_argument("--gpus-per-job", type=int, default=1, help="SLURM: GPUs per job")
    sweep.add_argument("--partition", default=None, help="SLURM partition")
    sweep.add_argument("--time", type=int, default=24 * 60, help="time limit per job in minutes (requeued after)")
    sweep.add_argument("--folder", default="_build/sweep/%j", help="submitit's logs (on a shared filesystem)")
    sweep.add_argument("--dry-run", action="store_true", help="list the jobs and what they will cost; submit nothing")
    sweep.add_argument("--bench", default=None, help="gssd bench results (json) of the machine that will run them")
    sweep.set_defaults(func=_cmd_sweep)


def _book_progress_command(sub, parents: _Parents) -> None:
    """gssd book-progress: used by make book"""
    book = sub.add_parser("book-progress", help="(used by make book) which notebook runs and what remains")
    book.add_argument("--profile", default="quick")
    book.add_argument("--notebook", default="")
    book.add_argument("--took", type=float, default=None, help="record that --notebook took this many seconds")
    book.add_argument("--keep-reference", action="store_true", help="copy the timings next to results/<profile>")
    book.add_argument("notebooks", nargs="*", help="the book's notebooks, in build order")
    book.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    book.set_defaults(func=_cmd_book_progress)


def _defend_command(sub, parents: _Parents) -> None:
    """gssd defend: a defense on the user's own data"""
    defend = sub.add_parser("defend", parents=[parents.settings], help="run a defense on your own data: an npz "
                            "(x_train, y_train, x_test, y_test; optionally x_test_triggered, x_clean, y_clean) or an "
                            "image folder (train/<class>/, test/<class>/; optionally clean/<class>/, triggered/)")
    defend.add_argument("--data", required=True, help="an npz or an image folder in the bring-your-own format (see "
                        "the README)")
    defend.add_argument("--image-size", type=int, default=None, help="an image folder's images are resized and "
                        "centre-cropped to this side in pixels (default: the one square size they all have)")
    defend.add_argument("--defense", default="gssd", help="a registered defense (gssd defenses lists them)")
    defend.add_argument("--out", required=True, help="folder for the outputs (created when missing)")
    defend.add_argument("--truth", default=None, help="npz with poison_indices (+ original_labels, target), "
                        "for evaluation only; the defense never reads it")
    defend.add_argument("--clean", default=None, help="npz with x_clean, y_clean: the clean reserve for NAD and ASD "
                        "(instead of those arrays, or the clean/ folder, in --data)")
    defend.add_argument("--target", type=int, default=None, help="target class, for the ASR")
    defend.add_argument("--train", action="store_true", help="train the final classifier, save it and report "
                        "ACC/ASR (GSSD, kNN and energy stop after the cleansing without it)")
    defend.set_defaults(func=_cmd_defend)


def _cmd_fetch_clip(_: argparse.Namespace) -> None:
    from gssd_utils.models.clip import fetch_weights

    print(f"CLIP RN50 weights: {fetch_weights()}")


def _step_check_command(sub, parents: _Parents) -> None:
    """gssd step-check: the 224-px profiles' stages, one step each"""
    check = sub.add_parser("step-check", parents=[parents.settings],
                           help="the 224-px paper profiles' stages, one step each at their batch sizes, on a "
                           "generated image folder, with the peak memory (the 224-px paper-dryrun)")
    check.add_argument("--per-class", type=int, default=24, help="training images generated per class (24)")
    check.set_defaults(func=_cmd_step_check)


def _fetch_command(sub, parents: _Parents) -> None:
    """gssd fetch-clip: the one download the package makes, on request"""
    sub.add_parser("fetch-clip", parents=[parents.debug], help="download CLIP RN50's weights (OpenAI's, via the "
                   "Hugging Face Hub) for Table 3's CLIP row, into $GSSD_WEIGHTS/clip-rn50-openai/"
                   ).set_defaults(func=_cmd_fetch_clip)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gssd", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parents = _parents()
    for add in (_listing_command, _poison_command, _no_defense_command, _evaluate_command, _compare_command,
                _curves_command, _control_command, _bench_command, _recipes_command, _sweep_command,
                _book_progress_command, _defend_command, _step_check_command, _fetch_command):
        add(sub, parents)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    from gssd_utils.provenance import running

    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    code = 0
    try:
        with running(["gssd", *argv]):
            args.func(args)
    except KeyboardInterrupt:
        print("gssd: interrupted. Finished stages are cached: the same command resumes where it stopped.",
              file=sys.stderr)
        code = INTERRUPTED
    except (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
        code = _report(args, exc, BAD_INPUT)
    except (RunFailure, FloatingPointError, MemoryError, OSError) as exc:
        code = _report(args, exc, FAILED)
    if code:
        raise SystemExit(code)


def _report(args: argparse.Namespace, exc: BaseException, code: int) -> int:
    if args.debug:
        traceback.print_exception(exc)
    message = str(exc) or type(exc).__name__
    if isinstance(exc, MemoryError) and not isinstance(exc, DataTooLargeError):  # that one names its own fix
        message = "out of memory. Fix: lower the batch sizes (--set ssl.batch_size=..., classifier.batch_size=...)"
    print(f"gssd: error: {message}", file=sys.stderr)
    return code
