"""The ``gssd`` command line: list attacks, write a poisoned data set, run the no-defense baseline, evaluate
GSSD on the book's attacks, defend a user's own data set."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch

from gssd_utils.atomic_io import save_json, save_npz
from gssd_utils.attacks import attack_names, get_attack_class, load_truth, poison_dataset
from gssd_utils.bench import run_benchmark
from gssd_utils.data import load_npz_dataset
from gssd_utils.experiments import run_gssd_table
from gssd_utils.gssd.evaluation import evaluate_split
from gssd_utils.gssd.pipeline import run_gssd
from gssd_utils.gssd.report import defense_report
from gssd_utils.no_defense import load_profile_data, run_no_defense
from gssd_utils.profiles import PROFILE_NAMES, get_profile
from gssd_utils.provenance import Provenance, git_commit
from gssd_utils.results_io import write_results
from gssd_utils.training import accuracy, attack_success_rate


def _attack_params(pairs: Sequence[str]) -> dict:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--param expects NAME=VALUE, got {pair!r}")
        try:
            params[name] = json.loads(value)
        except json.JSONDecodeError:
            params[name] = value
    return params


def _cmd_attacks(_: argparse.Namespace) -> None:
    for name in attack_names():
        cls = get_attack_class(name)
        print(f"{name:12s} default rate {cls.default_rate:>5.1%}  {cls.summary}")


def _cmd_poison(args: argparse.Namespace) -> None:
    profile = get_profile(args.profile)
    data = load_profile_data(profile, args.data_root)
    base = profile.poison_config(args.attack, args.rate, args.target, args.seed)
    config = replace(base, rate_base=args.rate_base, params={**base.params, **_attack_params(args.param)})
    out = poison_dataset(data, config).save(args.out)
    print(f"wrote {out}/data.npz (poisoned set), truth.npz (ground truth, for evaluation only), "
          "trigger.npz and attack.json", file=sys.stderr)


def _cmd_no_defense(args: argparse.Namespace) -> None:
    profile = get_profile(args.profile)
    if args.rates and args.rate is not None:
        raise SystemExit("gssd no-defense: give either --rate or --rates, not both")
    table, provenance = run_no_defense(profile, args.attacks or profile.attacks, args.rates or [args.rate],
                                       args.target, args.seed, args.data_root)
    paths = write_results(table, provenance, args.out or f"results/{profile.name}", "no_defense")
    print(table.to_string(index=False))
    print("wrote " + ", ".join(map(str, paths)), file=sys.stderr)


def _cmd_evaluate(args: argparse.Namespace) -> None:
    profile = get_profile(args.profile)
    table, provenance, details = run_gssd_table(profile, args.attacks or profile.attacks, args.rate, args.target,
                                                args.seed)
    paths = write_results(table, provenance, args.out or f"results/{profile.name}", "gssd", details)
    print(table.to_string(index=False))
    print("wrote " + ", ".join(map(str, paths)), file=sys.stderr)


def _cmd_bench(args: argparse.Namespace) -> None:
    profile = get_profile(args.profile)
    provenance = Provenance(profile=profile.name, data={"name": "random images of the profile's shapes"})
    with provenance.timed("benchmark"):
        table = run_benchmark(profile, batches=args.batches)
    print(f"{table.attrs['device']}; torch {torch.__version__}; commit {git_commit()[:12]}")
    print(table.attrs["profile"])
    print(table.to_string(index=False))
    if args.out:
        paths = write_results(table, provenance, args.out, f"bench_{profile.name}")
        print("wrote " + ", ".join(map(str, paths)), file=sys.stderr)


def _cmd_recipes(args: argparse.Namespace) -> None:
    from gssd_utils.recipe_search import recipe_curves

    table = recipe_curves(args.recipes, args.out, args.rate, args.data_root)
    print(table.to_string(index=False))


def _cmd_defend(args: argparse.Namespace) -> None:
    profile = get_profile(args.profile)
    data, triggered = load_npz_dataset(args.data)
    truth = load_truth(args.truth) if args.truth else None
    config = profile.gssd() if args.seed is None else profile.gssd().with_seed(args.seed)
    provenance = Provenance(profile=profile.name, data=data.info)
    with provenance.timed("total"):
        result = run_gssd(data.x_train, data.y_train, data.num_classes, config, train=args.train)
    out = Path(args.out)
    split = result.split
    save_npz(out / "split.npz", {
        "clean_indices": split.clean_indices, "suspect_indices": split.suspect_indices,
        "uncertain_indices": split.uncertain_indices, "relabeled_indices": split.relabeled_indices,
        "relabels": split.relabels,
    })
    save_npz(out / "scores.npz", {"sigma": split.scores, "log_ratio": split.log_ratio, "loglik": result.loglik})
    report = defense_report(result, data.y_train)
    report["provenance"] = provenance.as_dict()
    if truth is not None:
        report["evaluation"] = evaluate_split(split, result.stats, truth, len(data.y_train))
    if args.train:
        model = result.final_model
        report["acc"] = accuracy(model, data.x_test, data.y_test)
        target = args.target if args.target is not None else (truth.target if truth and truth.target >= 0 else None)
        if triggered is not None and target is not None:
            report["asr"] = attack_success_rate(model, triggered, target)
        elif triggered is not None:
            report["asr"] = "not computed: pass --target or a --truth file holding 'target'"
    save_json(out / "report.json", report)
    print(json.dumps({k: report[k] for k in ("flagged_classes", "kind", "split_sizes")}, indent=1))
    print(f"wrote {out}/split.npz, scores.npz and report.json", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gssd", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("attacks", help="list the registered attacks").set_defaults(func=_cmd_attacks)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", choices=PROFILE_NAMES, default="quick")
    common.add_argument("--data-root", default=None, help="folder holding cifar-10-batches-py/ (default $GSSD_DATA)")
    common.add_argument("--rate", type=float, default=None, help="poisoning rate (default: the attack's)")
    common.add_argument("--target", type=int, default=0)
    common.add_argument("--seed", type=int, default=0)

    poison = sub.add_parser("poison", parents=[common], help="write a poisoned data set as npz files")
    poison.add_argument("--attack", required=True)
    poison.add_argument("--rate-base", choices=("all", "non_target"), default="all")
    poison.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="attack parameter")
    poison.add_argument("--out", required=True)
    poison.set_defaults(func=_cmd_poison)

    baseline = sub.add_parser("no-defense", parents=[common], help="ACC/ASR of a classifier trained on poison")
    baseline.add_argument("--attacks", nargs="*", default=None)
    baseline.add_argument("--rates", nargs="+", type=float, default=None, metavar="RATE",
                          help="several poisoning rates, to find where each attack starts to work at this profile")
    baseline.add_argument("--out", default=None, help="results folder (default results/<profile>)")
    baseline.set_defaults(func=_cmd_no_defense)

    evaluate = sub.add_parser("evaluate", parents=[common], help="poison with each attack, defend with GSSD, measure "
                              "against the ground truth and the no-defense baseline (the book's Table 1)")
    evaluate.add_argument("--attacks", nargs="*", default=None)
    evaluate.add_argument("--out", default=None, help="results folder (default results/<profile>)")
    evaluate.set_defaults(func=_cmd_evaluate)

    bench = sub.add_parser("bench", help="per-stage throughput on this device (a benchmark, not a test)")
    bench.add_argument("--profile", choices=PROFILE_NAMES, default="quick")
    bench.add_argument("--batches", type=int, default=10, help="batches per measured epoch")
    bench.add_argument("--out", default=None, help="also write bench_<profile>.{csv,json} with provenance here")
    bench.set_defaults(func=_cmd_bench)

    recipes = sub.add_parser("recipes", help="ACC and 1%% BadNets ASR against training minutes for candidate "
                             "classifier recipes of the CPU tier (hours)")
    recipes.add_argument("recipes", nargs="+", help="recipe names (gssd_utils/recipe_search.py)")
    recipes.add_argument("--rate", type=float, default=0.01)
    recipes.add_argument("--data-root", default=None)
    recipes.add_argument("--out", default="results/quick/recipes")
    recipes.set_defaults(func=_cmd_recipes)

    defend = sub.add_parser("defend", help="run GSSD on an npz data set (x_train, y_train, x_test, y_test)")
    defend.add_argument("--data", required=True, help="npz in the bring-your-own format, optionally x_test_triggered")
    defend.add_argument("--profile", choices=PROFILE_NAMES, default="quick")
    defend.add_argument("--out", required=True)
    defend.add_argument("--seed", type=int, default=None, help="seed for SimCLR, flows and retraining")
    defend.add_argument("--truth", default=None, help="npz with poison_indices (+ original_labels, target), "
                        "for evaluation only; the defense never reads it")
    defend.add_argument("--target", type=int, default=None, help="target class, for the ASR")
    defend.add_argument("--train", action="store_true", help="retrain and fine-tune the classifier, report ACC/ASR")
    defend.set_defaults(func=_cmd_defend)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, FloatingPointError) as exc:
        raise SystemExit(f"gssd: error: {exc}") from exc
