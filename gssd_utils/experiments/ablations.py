"""The paper's ablations (§5.3): fine-tuning (Table 4), the feature extractor (Table 3), the poisoning rate
(Table 2) and the hyperparameters of detection and splitting.

Each reuses the cached stages of the runs; only what the ablation changes is recomputed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from gssd_utils import paper_reference
from gssd_utils.attacks import PoisonTruth
from gssd_utils.cache import array_digest, cache_path, cached_arrays, config_key, file_digest
from gssd_utils.evaluation import Metrics, SplitEvaluation, evaluate_split, official_code_sets
from gssd_utils.experiments.recipes import detection_quality
from gssd_utils.experiments.runs import AttackRun
from gssd_utils.experiments.tables import pct
from gssd_utils.gssd.config import GSSDConfig
from gssd_utils.gssd.detection import detect_target_classes
from gssd_utils.gssd.pipeline import defend_from_features, retrain_and_finetune
from gssd_utils.gssd.splitting import split_and_relabel
from gssd_utils.ssl.features import extract_features, standardize
from gssd_utils.training.classifier import cached_classifier

# the official code's retraining and fine-tuning, which drop the ground-truth poisons (an evaluation-only ablation)
OFFICIAL = "D_C without the true poisons (official code; reads the truth)"
TABLE4_ROWS = (
    ("Original (D)", False),
    ("Original (D)", True),
    ("Cleansed (D_C)", False),
    ("Cleansed (D_C ∪ D'_P)", False),
    ("Cleansed (D_C)", True),
    (OFFICIAL, False),
    (OFFICIAL, True),
)


def finetune_ablation(run: AttackRun) -> pd.DataFrame:
    """Table 4 for one attack: which training data, with or without fine-tuning on the relabeled D̂'_P."""
    state, config = run.gssd(train=True), run.profile.gssd()
    split, x, y = state.split, run.x_train, run.y_train
    num_classes = run.poisoned.data.num_classes
    data_key = array_digest(x, y)
    relabel_key = array_digest(split.relabeled_indices, split.relabels)
    original = run.defend("none").model
    # each model with its cache key, so its ACC/ASR is measured once
    models = {TABLE4_ROWS[0]: (original, run.run_key("none")), TABLE4_ROWS[2]: (state.retrained, state.keys["retrain"]),
              TABLE4_ROWS[4]: (state.finetuned, state.keys.get("finetune"))}
    if len(split.relabeled_indices):
        finetune = config.finetune_config()
        key = config_key(data_key, "original + fine-tune", relabel_key, asdict(finetune))
        models[TABLE4_ROWS[1]] = (cached_classifier(x[split.relabeled_indices], split.relabels, num_classes,
                                                    finetune, key, init=original, progress=run.progress), key)
        union = np.concatenate([split.clean_indices, split.relabeled_indices])
        key = config_key(data_key, "clean + relabeled", array_digest(split.clean_indices), relabel_key,
                         asdict(config.retrain))
        models[TABLE4_ROWS[3]] = (cached_classifier(x[union], np.concatenate([y[split.clean_indices], split.relabels]),
                                                    num_classes, config.retrain, key, progress=run.progress), key)
    models.update(_official_code_models(run))
    rows = []
    for data_name, finetuned in TABLE4_ROWS:
        model, key = models.get((data_name, finetuned), (None, None))
        measured = None if model is None else run.measure(model, key)
        published = paper_reference.TABLE4.get((data_name, finetuned), {}).get(run.attack, (None, None))
        rows.append({
            "attack": run.attack, "training data": data_name, "fine-tuning": "yes" if finetuned else "no",
            "ACC ours": None if measured is None else pct(measured.acc),
            "ASR ours": None if measured is None else pct(measured.asr),
            "ACC paper": published[0], "ASR paper": published[1],
            "note": _note(data_name, finetuned, model),
        })
    return pd.DataFrame(rows)


def _note(data_name: str, finetuned: bool, model) -> str:
    if model is None:
        return "nothing relabeled: D'_P is empty" if data_name != OFFICIAL else "no sample of D'_P is clean"
    if data_name == OFFICIAL:
        return ("the ground truth removed the poisons; fine-tuned on the clean samples of D'_P only" if finetuned
                else "the ground truth removed the poisons")
    return ""


def _official_code_models(run: AttackRun) -> dict:
    """Table 4's evaluation-only rows: retraining on D̂_C without the true poisons, then fine-tuning on what is left of
    D̂'_P without them (``evaluation.official_code_sets``), as the official code does."""
    state, config = run.gssd(train=True), run.profile.gssd()
    split, x, y = state.split, run.x_train, run.y_train
    num_classes = run.poisoned.data.num_classes
    kept, relabeled = official_code_sets(split, run.truth, len(y))
    key = config_key(array_digest(x, y), "official code: D_C without the true poisons", array_digest(kept),
                     asdict(config.retrain))
    retrained = cached_classifier(x[kept], y[kept], num_classes, config.retrain, key, progress=run.progress)
    models = {(OFFICIAL, False): (retrained, key)}
    if len(relabeled):
        finetune = config.finetune_config()
        indices, labels = split.relabeled_indices[relabeled], split.relabels[relabeled]
        tuned_key = config_key(key, array_digest(indices, labels), asdict(finetune))
        models[(OFFICIAL, True)] = (cached_classifier(x[indices], labels, num_classes, finetune, tuned_key,
                                                      init=retrained, progress=run.progress), tuned_key)
    return models


_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def with_norm_statistics(model: nn.Module, source: nn.Module, share: float = 1.0) -> nn.Module:
    """A copy of ``model`` whose batch-norm layers normalise with ``source``'s running statistics (same network),
    or, for ``share`` < 1, with those of a population that is ``share`` of ``source``'s and the rest ``model``'s:
    the mixture's mean, and its variance including the spread between the two means."""
    statistics = {name: layer for name, layer in source.named_modules() if isinstance(layer, _NORMS)}
    copied = copy.deepcopy(model)
    for name, layer in copied.named_modules():
        if isinstance(layer, _NORMS):
            mean, other = layer.running_mean.clone(), statistics[name]  # the variance below reads the old mean
            layer.running_mean.copy_((1 - share) * mean + share * other.running_mean)
            layer.running_var.copy_((1 - share) * layer.running_var + share * other.running_var
                                    + share * (1 - share) * (mean - other.running_mean) ** 2)
    return copied


def finetune_anatomy(run: AttackRun) -> dict:
    """What GSSD's fine-tuning on D̂'_P changes: the weights, or the batch-norm running statistics.

    At the official code's lr (a thousandth of the training's) the weights move little, while every batch-norm layer,
    in train mode, re-estimates its running statistics on D̂'_P, and D̂'_P holds mostly poisons. Crossing the weights
    of the model trained on D̂_C and of the fine-tuned one with each other's statistics separates the two. For the
    reader: the truth is read only for D̂'_P's poison share."""
    state = run.gssd(train=True)
    relabeled = state.split.relabeled_indices
    row: dict = {"attack": run.attack, "D'_P": len(relabeled),
                 "poisons in D'_P %": pct(run.is_poisoned()[relabeled].mean()) if len(relabeled) else None}
    tuned, retrain_key = state.finetuned, state.keys["retrain"]
    models = {"D_C": (state.retrained, retrain_key)}
    if tuned is not None:
        tuned_key = state.keys["finetune"]
        models["fine-tuned"] = (tuned, tuned_key)
        models["fine-tuned weights, D_C statistics"] = (with_norm_statistics(tuned, state.retrained),
                                                        config_key(tuned_key, "norm statistics of", retrain_key))
        models["D_C weights, fine-tuned statistics"] = (with_norm_statistics(state.retrained, tuned),
                                                        config_key(retrain_key, "norm statistics of", tuned_key))
    for name, (model, key) in models.items():
        measured = run.measure(model, key)
        row[f"ACC {name}"], row[f"ASR {name}"] = pct(measured.acc), pct(measured.asr)
    return row


@dataclass(frozen=True)
class ExtractorResult:
    """GSSD with one feature extractor: detection, split, their quality against the truth
    (``recipes.detection_quality``: the target's margin, the AUROC of σ inside it, ...) and the final model's
    ACC/ASR."""

    split: SplitEvaluation
    metrics: Metrics
    quality: dict


NORM_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
NORM_SHARE = "share of fine-tuned statistics"


def norm_statistics_path(run: AttackRun, shares: Sequence[float] = NORM_SHARES) -> list[dict]:
    """The D̂_C model's ACC and ASR as its batch-norm statistics move toward the fine-tuned model's (share 0: its own,
    share 1: the fine-tuned ones), its weights fixed: whether the backdoor and the clean accuracy go at the same rate
    (``finetune_anatomy`` crosses the two end points). An explanation, not a recipe: no share is chosen from it.
    Empty where GSSD did not fine-tune."""
    state = run.gssd(train=True)
    if state.finetuned is None:
        return []
    rows = []
    for share in shares:
        model = with_norm_statistics(state.retrained, state.finetuned, share)
        measured = run.measure(model, config_key(state.keys["retrain"], "norm statistics", share, "of",
                                                 state.keys["finetune"]))
        rows.append({"attack": run.attack, NORM_SHARE: share, "ACC": pct(measured.acc), "ASR": pct(measured.asr)})
    return rows


def norm_statistics_table(runs: Sequence[AttackRun]) -> pd.DataFrame:
    """``norm_statistics_path`` of every run that fine-tuned, one table (with its columns when none did)."""
    return pd.DataFrame([row for run in runs for row in norm_statistics_path(run)],
                        columns=["attack", NORM_SHARE, "ACC", "ASR"])


def supervised_features_result(run: AttackRun) -> ExtractorResult:
    """Table 3's supervised row: GSSD on the penultimate features of the classifier trained on the poisoned set.

    Everything after the features (flows, detection, split, retraining) is as in the SimCLR run.
    """
    model_key = run.run_key("none")
    raw = cached_arrays(cache_path("features", config_key("supervised", model_key), ".npz"),
                        lambda: {"features": extract_features(run.defend("none").model, run.x_train)},
                        config={"supervised": model_key}, expect={"features": (len(run.x_train), None)})
    return _extractor_result(run, raw["features"], "supervised")


def clip_features_result(run: AttackRun, weights: Path | None) -> ExtractorResult:
    """Table 3's CLIP row: GSSD on CLIP RN50 image features of the poisoned set (``weights``: OpenAI's, or None for
    the architecture at random initialisation, which only tests the code path)."""
    from gssd_utils.models.clip import clip_encoder, clip_features

    tag = "clip-rn50-" + (file_digest(weights) if weights is not None else "random")
    key = config_key(tag, array_digest(run.x_train))
    raw = cached_arrays(cache_path("features", key, ".npz"),
                        lambda: {"features": clip_features(clip_encoder(weights), run.x_train)},
                        config={"extractor": tag}, expect={"features": (len(run.x_train), None)})
    return _extractor_result(run, raw["features"], tag)


def _extractor_result(run: AttackRun, raw: np.ndarray, tag: str) -> ExtractorResult:
    """GSSD's stages 3-6, retraining and fine-tuning on the raw features of another extractor."""
    x, y = run.x_train, run.y_train
    num_classes = run.poisoned.data.num_classes
    (features,) = standardize(raw)
    config = run.profile.gssd()
    result = defend_from_features(features, y, num_classes, config, f"{tag}-" + array_digest(features),
                                  run.progress)
    result = retrain_and_finetune(result, x, y, num_classes, config, run.progress)
    final_key = result.keys.get("finetune", result.keys["retrain"])
    return ExtractorResult(split=evaluate_split(result.split, result.stats, run.truth, len(y)),
                           metrics=run.measure(result.final_model, final_key), quality=detection_quality(result, run))


def gssd_result(run: AttackRun) -> ExtractorResult:
    """GSSD as the run's profile has it (its own self-supervised method), measured."""
    result = run.result("gssd")
    return ExtractorResult(split=result.split, metrics=result.metrics, quality=detection_quality(run.gssd(), run))


def other_ssl_results(run: AttackRun) -> dict[str, ExtractorResult]:
    """Table 3's rows for the registered self-supervised methods other than the profile's (the paper's open question,
    §6: BYOL instead of SimCLR): GSSD on the same poisoned set with only ``ssl.method`` changed. The same runs as
    ``gssd compare --set ssl.method=NAME``, served from the same cache entries."""
    from gssd_utils.ssl.registry import METHODS

    return {method.display: gssd_result(run.with_ssl_method(name)) for name, method in METHODS.items()
            if name != run.profile.ssl.method}


def clip_weights() -> tuple[Path | None, str]:
    """The CLIP weights Table 3 runs on, or None and the note its row shows instead (no download at run time)."""
    from gssd_utils.models.clip import weights_path

    weights = weights_path()
    if weights.is_file():
        return weights, ""
    return None, f"not run: no CLIP RN50 weights at {weights} (gssd fetch-clip)"


# what Table 3 shows of each extractor's detection beside ACC/ASR (the paper shows only these): the class-level
# test's margin and false alarms, and how well σ ranks the poisons inside the target class whatever the test said
QUALITY = ("false-positive classes", "ND margin", "AUROC sigma")


def feature_extractor_table(runs: Mapping[str, AttackRun]) -> pd.DataFrame:
    """Table 3: GSSD with supervised, self-supervised (the profile's method, then every other registered one) and
    CLIP features. The CLIP row runs when its weights are on disk (``gssd fetch-clip``); otherwise it keeps the
    paper's numbers and says what is missing. The paper has no row for a method other than SimCLR."""
    from gssd_utils.ssl.registry import get_method

    weights, missing = clip_weights()
    rows = []
    for attack, run in runs.items():
        own = get_method(run.profile.ssl.method).display
        measured = {"RN-18 supervised": supervised_features_result(run),
                    f"RN-18 self-sup ({own})": gssd_result(run),
                    **{f"RN-18 self-sup ({name})": result for name, result in other_ssl_results(run).items()},
                    "RN-50 CLIP": None if weights is None else clip_features_result(run, weights)}
        for extractor, result in measured.items():
            published = paper_reference.TABLE3.get(extractor, {}).get(attack, (None, None))
            note = missing if result is None else "" if extractor in paper_reference.TABLE3 else "not in the paper"
            rows.append({"attack": attack, "feature extractor": extractor,
                         "target detected": None if result is None else result.split.target_detected,
                         **{name: None if result is None else result.quality[name] for name in QUALITY},
                         "ACC ours": None if result is None else pct(result.metrics.acc),
                         "ASR ours": None if result is None else pct(result.metrics.asr),
                         "ACC paper": published[0], "ASR paper": published[1], "note": note})
    return pd.DataFrame(rows)


SWEEPABLE = {"beta_nd": "detection", "beta_d": "detection", "lam": "detection", "false_alarm": "detection",
             "lam_quantile": "detection", "alpha_c": "split", "alpha_p": "split"}


def hyperparameter_sweep(loglik: np.ndarray, labels: np.ndarray, truth: PoisonTruth, config: GSSDConfig,
                         parameter: str, values: Sequence[float]) -> list[tuple[float, SplitEvaluation]]:
    """Detection and split quality as one hyperparameter varies, the others at ``config``'s values.

    Works on a cached likelihood matrix, so a sweep costs seconds: no retraining (the paper's robustness
    figures also vary only detection and splitting).
    """
    if parameter not in SWEEPABLE:
        raise ValueError(f"unknown hyperparameter {parameter!r}; sweepable: {', '.join(SWEEPABLE)}")
    points = []
    for value in values:
        detection, split_config = config.detection, config.split
        if SWEEPABLE[parameter] == "detection":
            detection = replace(detection, **{parameter: value})
        else:
            split_config = replace(split_config, **{parameter: value})
        stats = detect_target_classes(loglik, labels, detection)
        split = split_and_relabel(loglik, labels, stats, split_config)
        points.append((value, evaluate_split(split, stats, truth, len(labels))))
    return points


def sweep_table(sweeps: Mapping[str, list[tuple[float, SplitEvaluation]]]) -> pd.DataFrame:
    return pd.DataFrame([{"parameter": parameter, "value": value, "target detected": q.target_detected,
                          "false positives": len(q.false_positive_classes),
                          "suspect precision %": pct(q.suspect_precision), "suspect recall %": pct(q.suspect_recall),
                          "poisons left in D_C": q.poisons_in_clean, "relabel acc %": pct(q.relabel_accuracy)}
                         for parameter, points in sweeps.items() for value, q in points])


# the values each hyperparameter takes in the robustness figure; which ones are swept depends on the detection rule
SWEEP_VALUES = {
    "alpha_c": (0.1, 0.2, 0.3, 0.4, 0.5),
    "alpha_p": (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5),
    "beta_nd": (0.3, 0.45, 0.6, 0.75, 0.9, 1.2, 1.5),
    "beta_d": (0.01, 0.03, 0.05, 0.1, 0.2),
    "lam": (0.25, 0.5, 0.75, 1.0),
    "false_alarm": (0.01, 0.02, 0.05, 0.1, 0.2),
    "lam_quantile": (0.1, 0.25, 0.5, 0.75, 1.0),
}
RULE_PARAMETERS = {"paper": ("beta_nd", "beta_d", "lam"), "calibrated": ("false_alarm", "beta_d", "lam_quantile")}


def default_sweeps(config: GSSDConfig) -> dict[str, tuple[float, ...]]:
    """The split's two shares and the three settings of the detection rule ``config`` uses, with their values."""
    return {name: SWEEP_VALUES[name] for name in ("alpha_c", "alpha_p", *RULE_PARAMETERS[config.detection.rule])}


def sweep_defaults(config: GSSDConfig) -> dict[str, float]:
    """Each sweepable hyperparameter's value in ``config`` (the dashed line of the figure)."""
    return {**asdict(config.detection), **asdict(config.split)}


def rate_row(run: AttackRun) -> dict:
    """Table 2's row for one (attack, rate): no defense and GSSD, ours and the paper's."""
    none, gssd = run.result("none"), run.result("gssd")
    published = paper_reference.TABLE2.get(round(run.rate, 2), {}).get(run.attack, {})
    no_paper, gssd_paper = published.get("no defense", (None, None)), published.get("gssd", (None, None))
    return {"rate": run.rate, "attack": run.attack, "n_poisoned": gssd.n_poisoned,
            "target detected": gssd.split.target_detected,
            "ACC no defense": pct(none.metrics.acc), "ASR no defense": pct(none.metrics.asr),
            "ACC GSSD": pct(gssd.metrics.acc), "ASR GSSD": pct(gssd.metrics.asr),
            "ACC no defense paper": no_paper[0], "ASR no defense paper": no_paper[1],
            "ACC gssd paper": gssd_paper[0], "ASR gssd paper": gssd_paper[1]}
