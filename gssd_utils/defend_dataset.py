"""``gssd defend``: any registered defense on a user's own data set (an npz or an image folder), its outputs and
report written to a folder.

Everything the command will need is read and checked first — the data, the clean reserve, the truth file, the
target, the settings, the output and cache folders, whether the defense can run on this data — so that bad input
fails in a second, before any training. The outputs are written atomically; the evaluation against ``--truth``
(for the experimenter only: the defense never reads it) runs last, and a failure there still leaves the defense's
own outputs and a ``report.json`` that records the error.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gssd_utils.atomic_io import save_json, save_npz, save_torch
from gssd_utils.attacks import PoisonTruth, load_truth
from gssd_utils.cache import check_cache_root
from gssd_utils.data import load_clean_reserve, load_user_data
from gssd_utils.defenses.base import Defense, DefenseInput, DefenseOutcome
from gssd_utils.defenses.registry import build_defense
from gssd_utils.failures import RunFailure
from gssd_utils.profiles import Profile
from gssd_utils.provenance import Provenance


class EvaluationFailed(RunFailure):
    """The defense ran and its outputs were written, but measuring it failed."""


@dataclass(frozen=True)
class DefendRequest:
    """What the user asked for: ``defense`` on ``data`` (an npz, an image folder or a registered data set's name;
    ``image_size`` for a folder), optionally with a clean reserve, the truth (for the evaluation only), the target
    class, and ``train`` (train the final classifier, not only cleanse). ``overrides`` are the ``--set`` settings,
    recorded in the report."""

    defense: str
    data: Path
    clean: Path | None = None
    truth: Path | None = None
    target: int | None = None
    train: bool = False
    overrides: tuple[str, ...] = ()
    image_size: int | None = None


def _target(request: DefendRequest, truth: PoisonTruth | None, num_classes: int) -> int | None:
    target = request.target if request.target is not None else (
        truth.target if truth and truth.target >= 0 else None)
    if target is not None and not 0 <= target < num_classes:
        raise ValueError(f"--target {target} is not a class of the data (0..{num_classes - 1})")
    return target


def defend_dataset(request: DefendRequest, profile: Profile, out: Path) -> None:
    """Check everything, run the requested defense, write its outputs and report into ``out``."""
    check_cache_root()
    user = load_user_data(request.data, image_size=request.image_size)
    data = user.data
    clean = load_clean_reserve(request.clean, data) if request.clean else user.clean
    truth, layout = (load_truth(request.truth, len(data.y_train), data.num_classes, "--truth")
                     if request.truth else (None, None))
    target = _target(request, truth, data.num_classes)
    defense = build_defense(request.defense, profile.defense_config(request.defense), profile.classifier)
    if not request.train and not defense.cleansing:
        raise ValueError(f"defense {request.defense!r} trains a classifier by design. Fix: add --train")
    if clean and not defense.uses_clean_data:
        if request.clean:
            print(f"--clean: defense {request.defense!r} uses no clean data; the reserve is ignored",
                  file=sys.stderr)
        clean = None
    inputs = DefenseInput(data.x_train, data.y_train, data.num_classes, *(clean or (None, None)))
    defense.check(inputs)
    if truth is not None:
        print(f"--truth: {len(truth.poison_indices)} poisons; original_labels {layout}", file=sys.stderr)

    provenance = Provenance(profile=profile.name, data=data.identity())
    with provenance.timed(request.defense):
        outcome = defense.run(inputs) if request.train else defense.cleanse(inputs)
    report = _report(request, profile, provenance, outcome, clean, layout)
    _write_outputs(out, defense, outcome, data.info.get("train_files"))
    failure = None
    try:
        report.update(_evaluate(defense, outcome, truth, user.x_test_triggered, data, target, request.train))
    except Exception as exc:  # measuring failed: the defense's outputs stay, the report says why
        failure = f"{type(exc).__name__}: {exc}"
        report["evaluation_error"] = failure
    save_json(out / "report.json", report)
    print(json.dumps({k: report[k] for k in ("defense", "removed", "relabeled", *_headline(report))}, indent=1))
    written = ", ".join(sorted(p.name for p in out.iterdir() if not p.name.startswith(".")))
    print(f"wrote {out}/: {written}", file=sys.stderr)
    if failure:
        raise EvaluationFailed(f"the defense's outputs and report.json were written to {out}, but the evaluation "
                               f"failed ({failure})")


def _headline(report: dict) -> tuple[str, ...]:
    return tuple(k for k in ("flagged_classes", "acc", "asr", "evaluation_error") if k in report)


def _report(request: DefendRequest, profile: Profile, provenance: Provenance, outcome: DefenseOutcome,
            clean: tuple | None, layout: str | None) -> dict[str, Any]:
    report: dict[str, Any] = {
        "defense": request.defense, "trained": request.train, "settings": profile.describe(),
        "overrides": list(request.overrides),
        "removed": len(outcome.removed), "relabeled": len(outcome.relabeled),
        "clean_reserve": 0 if clean is None else len(clean[1]),
        "stages": {name: stage.as_dict() for name, stage in outcome.stages.items()},
        "provenance": provenance.as_dict(), **outcome.details,
    }
    if layout is not None:
        report["truth_original_labels"] = layout
    return report


def _write_outputs(out: Path, defense: Defense, outcome: DefenseOutcome, files: tuple[str, ...] | None) -> None:
    """The defense's outputs; for an image folder, the files behind the indices too (``files``: the training set's)."""
    named = {} if files is None else {"removed_files": np.array(files)[outcome.removed].astype(str),
                                      "relabeled_files": np.array(files)[outcome.relabeled].astype(str)}
    save_npz(out / "removed.npz", {"removed_indices": outcome.removed, "relabeled_indices": outcome.relabeled,
                                   "relabels": outcome.relabels, **named})
    for name, arrays in defense.extra_outputs(outcome).items():
        save_npz(out / name, arrays)
    if outcome.model is not None:
        save_torch(out / "model.pt", {k: v.cpu() for k, v in outcome.model.state_dict().items()})


def _evaluate(defense: Defense, outcome: DefenseOutcome, truth: PoisonTruth | None, triggered: np.ndarray | None,
              data: Any, target: int | None, trained: bool) -> dict[str, Any]:
    """ACC/ASR of the trained model, and what the defense set aside against the truth (experimenter's side)."""
    from gssd_utils.evaluation import evaluate_removal
    from gssd_utils.training.metrics import predict

    found: dict[str, Any] = {}
    n = len(data.y_train)
    if truth is not None:
        found["evaluation"] = evaluate_removal(outcome.removed, outcome.relabeled, outcome.relabels, truth,
                                               n).as_dict()
        split = defense.evaluate_split(outcome, truth, n)
        if split is not None:
            found["split_evaluation"] = split.as_dict()
    if trained:
        found["acc"] = float(np.mean(predict(outcome.model, data.x_test) == data.y_test))
        if triggered is not None and target is not None:
            found["asr"] = float(np.mean(predict(outcome.model, triggered) == target))
        elif triggered is not None:
            found["asr"] = "not computed: pass --target or a --truth file holding 'target'"
    return found
