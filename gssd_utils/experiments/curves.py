"""A defense's curves: ACC and ASR of its model after every epoch of every stage, not only at the end.

The end numbers of Table 1 say that a defense failed, not where. The defense runs unchanged; an epoch observer
(``training.checkpoint.observe_epochs``) measures each of its classifiers before its first epoch (epoch 0: what the
stage starts from) and after every epoch, named by the stage the defense times it in (``current_stage``). For DBD
each point also scores the split that model would hand MixMatch's next epoch (its labelled half) against the
ground truth. Evaluation only: nothing the defense sees changes, and its last point is its Table 1 row.

Stages served from the cache have no epochs to observe, so a curve trains every stage once more in a cache folder
of its own (``<cache>/curves/<key>``, resumable like any run: points are saved as they come, and an epoch run
twice after an interruption keeps its last measurement). The finished curve is kept in the main cache.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pandas as pd
from torch import nn

from gssd_utils.atomic_io import save_json
from gssd_utils.cache import cache_path, cache_subfolder
from gssd_utils.defenses.registry import build_defense, get_defense_class
from gssd_utils.experiments.runs import AttackRun
from gssd_utils.provenance import current_stage
from gssd_utils.training.checkpoint import observe_epochs

# the baselines whose end numbers the book diagnoses with their curves (Table 1 at quick: DBD far below no defense)
CURVE_DEFENSES = ("dbd", "nad")
CURVES_NAME = "stage_curves"  # their results file
COLUMNS = ("attack", "defense", "stage", "epoch", "ACC", "ASR")


def _dbd_split(run: AttackRun) -> Callable[[nn.Module], dict[str, float]]:
    """The share of the poisons (and of the labelled) in the half DBD's rule would label with ``model``."""
    profile = run.profile
    defense = build_defense("dbd", profile.defense_config("dbd"), profile.classifier, progress=False)
    poisoned = run.is_poisoned()

    def measure(model: nn.Module) -> dict[str, float]:
        labelled = defense.labelled_mask(model, run.x_train, run.y_train)
        return {"poisons labelled %": round(100 * float(labelled[poisoned].mean()), 2),
                "poison share of the labelled %": round(100 * float(poisoned[labelled].mean()), 2)}

    return measure


_EXTRA: dict[str, Callable[[AttackRun], Callable[[nn.Module], dict[str, float]]]] = {"dbd": _dbd_split}


def defense_curve(run: AttackRun, name: str) -> list[dict]:
    """The points of defense ``name`` on ``run``'s poisoned set (cached; trained afresh in its own folder)."""
    key = run.run_key(name)
    done = cache_path("curves", key, ".json")
    if done.is_file():
        return json.loads(done.read_text())["points"]
    with cache_subfolder(f"curves/{key[:20]}"):
        partial = cache_path("curve points", key, ".json")
        points = {(p["stage"], p["epoch"]): p for p in
                  (json.loads(partial.read_text())["points"] if partial.is_file() else [])}
        extra = _EXTRA.get(name, lambda _run: lambda _model: {})(run)
        display = get_defense_class(name).display

        def observe(desc: str, epoch: int, model: nn.Module) -> None:
            if not callable(getattr(model, "classify", None)):  # a self-supervised model has no classes to score
                return
            stage = current_stage() or desc
            metrics = run.measure(model)
            points[stage, epoch] = {"attack": run.attack, "defense": display, "stage": stage, "epoch": epoch,
                                    "ACC": round(100 * metrics.acc, 2), "ASR": round(100 * metrics.asr, 2),
                                    **extra(model)}
            save_json(partial, {"points": list(points.values())})

        with observe_epochs(observe):
            run.afresh().result(name)
    save_json(done, {"points": list(points.values())})
    return list(points.values())


def stage_curves(run: AttackRun, defenses: Sequence[str] = CURVE_DEFENSES) -> pd.DataFrame:
    """Every point of each defense's curve on ``run``, in training order (``COLUMNS`` and the defense's extras)."""
    table = pd.DataFrame([point for name in defenses for point in defense_curve(run, name)])
    return table.reindex(columns=[*COLUMNS, *sorted(set(table.columns) - set(COLUMNS))])
