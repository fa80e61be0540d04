"""The ``gssd`` command line: list attacks, write a poisoned data set, run the no-defense baseline."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from gssd_utils.attacks import PoisonConfig, attack_names, get_attack_class, poison_dataset
from gssd_utils.no_defense import load_profile_data, run_no_defense, write_results
from gssd_utils.profiles import PROFILE_NAMES, get_profile


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
    config = PoisonConfig(attack=args.attack, rate=args.rate, target=args.target, seed=args.seed,
                          rate_base=args.rate_base, params=_attack_params(args.param))
    out = poison_dataset(data, config).save(args.out)
    print(f"wrote {out}/data.npz (poisoned set), truth.npz (ground truth, for evaluation only), "
          "trigger.npz and attack.json", file=sys.stderr)


def _cmd_no_defense(args: argparse.Namespace) -> None:
    profile = get_profile(args.profile)
    table, provenance = run_no_defense(profile, args.attacks or profile.attacks, args.rate, args.target,
                                       args.seed, args.data_root)
    paths = write_results(table, provenance, args.out or f"results/{profile.name}", "no_defense")
    print(table.to_string(index=False))
    print("wrote " + ", ".join(map(str, paths)), file=sys.stderr)


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
    baseline.add_argument("--out", default=None, help="results folder (default results/<profile>)")
    baseline.set_defaults(func=_cmd_no_defense)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"gssd: error: {exc}") from exc
