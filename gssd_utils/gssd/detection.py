"""Target-class detection from per-class densities (GSSD §4.4, Eqs. 2-4): the paper's rule and a calibrated one.

Input: the (N, C) matrix of per-dimension log-likelihoods ℓ_k(z_i) = log p_k(z_i) / D of every training
feature under every class flow, and the observed labels. Never the ground truth. ``DetectionConfig.rule`` picks
the rule; both fill the same ``ClassStatistics`` and both always report S_ND (Eq. 2).

**The paper's rule** (``rule="paper"``), as the official code has it:
- Scale: everything is per dimension, as in the official code; β_ND = 0.6 and λ = 0.75 are calibrated there.
- S_ND (Eq. 2): the paper flags "S_ND exceeds β_ND" with S_ND a mean log-density; the code flags
  "mean foreign NLL/dim < β_ND". We implement S_ND > −β_ND, i.e. β_ND is read as an NLL per dimension.
- S_D (Eq. 4): the paper's closing "less than β_D" contradicts its own reading of β_D as the minimum
  poisoned fraction; we flag S_D > β_D, as the code does.
- μ_y (the histogram minimum left of λ): the code's semantics, guards included. v is binned in 30 equal
  bins over [min v, max v]; only bins lying entirely left of λ are searched; the class is flagged only if
  the minimum is not the first bin and the mass left of it is at least twice the minimum bin's count.
  The guards encode the bimodality of the paper's Fig. 2; ``histogram_guards=False`` drops them.
- Order: the disruptive test runs first; the non-disruptive test only on classes it did not flag, so a
  class both tests would flag counts as disruptive.

**The calibrated rule** (``rule="calibrated"``) asks the paper's two questions with statistics that carry no
absolute likelihood level, so it means the same on features of any dimension, extractor or flow; each test has a
stated false-alarm level ``false_alarm`` (α) over the C classes:
- Non-disruptive. For every sample, the *runner-up* is the other class whose flow gives it the highest density
  (argmax_{k≠y_i} ℓ_k(z_i)). R_c is the median, over the source classes k ≠ c, of the share of class k's samples
  whose runner-up is c. An all-to-one attack draws its poisons from every other class; if their features stay
  near their sources (the paper's non-disruptive case), the target's flow learns a piece of every source class
  and becomes a runner-up across the board, while a clean class is a runner-up only for its semantic neighbours
  (cat for dog). This is Eq. 2's "moderate densities to many foreign samples" compared between flows sample by
  sample, rather than averaged on an absolute log scale (where a few far-off samples dominate). The test, on
  r_c = √R_c (the square root makes a share's spread independent of its level, as for a count): T_c =
  (r_c − mean of the others) / (their std · √(1 + 1/(C−1))), Student's t with C−2 degrees of freedom if the
  C values are exchangeable normal draws (a prediction interval from the other classes); c is flagged when its
  one-sided p-value is below α / C (Bonferroni), so a clean set raises a false alarm with probability about α
  (measured on synthetic classes at the corners of a simplex: 6% at α = 5%). Its assumption fails for a *hub*,
  a clean class lying between the others, which is every class's runner-up; the book's clean-data control
  measures the false alarms on real features. Needs C ≥ 4.
- Disruptive. u_i = max_{k≠y_i} ℓ_k(z_i) (log v of Eq. 3). A disruptive mode is a group of a class's samples
  whose u is low next to the other classes' samples, separated from the rest of its class by a valley: a
  histogram of the class's u (Freedman-Diaconis bin width) is searched for a valley bin m lying wholly below λ_c,
  the ``lam_quantile`` quantile of the other classes' u (λ is a share of clean-looking samples, not a density).
  Both sides of the valley must hold at least β_D of the class (the degenerate "valley" at the far right, with
  99.9% of the class on its left, is no mode), and the valley must be lower than the highest bin on each side:
  for each side, the chance that a valley count this low arises by binomial noise between two bins of equal
  density, and the larger of the two is the valley's p-value. The deepest valley is the class's; it is flagged
  when p < α / (C · number of candidate bins). S_D is the share left of it, μ its left edge (on the u scale).
- Order as in the paper's rule: disruptive first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats as scipy_stats

DISRUPTIVE = "disruptive"
NON_DISRUPTIVE = "non-disruptive"
RULES = ("paper", "calibrated")
MIN_CLASSES_CALIBRATED = 4  # the non-disruptive test estimates a spread from the other C-1 classes (C-2 d.o.f.)


@dataclass(frozen=True)
class DetectionConfig:
    rule: str = "paper"
    beta_nd: float = 0.6  # paper rule: flag when the foreign NLL per dimension is below this
    beta_d: float = 0.05  # both rules: the least share of a class a disruptive mode holds
    lam: float = 0.75  # paper rule: the density per dimension left of which the v histogram is searched
    bins: int = 30  # paper rule
    histogram_guards: bool = True  # paper rule
    false_alarm: float = 0.05  # calibrated rule: the family-wise false-alarm level of each test over the classes
    lam_quantile: float = 0.5  # calibrated rule: the valley lies below this quantile of the other classes' u

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"detection.rule={self.rule!r} is not valid; choose one of {', '.join(RULES)}")
        if not 0.0 < self.beta_d < 0.5:
            raise ValueError(f"beta_d={self.beta_d} is out of range; it is a fraction of a class, in (0, 0.5)")
        if not self.beta_nd > 0:
            raise ValueError(f"beta_nd={self.beta_nd} must be positive: it is a negative log-likelihood per dimension")
        if not 0.0 < self.lam <= 1.0:
            raise ValueError(f"lam={self.lam} is out of range; it is a per-dimension density in (0, 1]")
        if self.bins < 3:
            raise ValueError(f"bins={self.bins} must be at least 3 for a histogram minimum to mean anything")
        if not 0.0 < self.false_alarm < 0.5:
            raise ValueError(f"false_alarm={self.false_alarm} is out of range; it is a probability in (0, 0.5), "
                             "e.g. 0.05")
        if not 0.0 < self.lam_quantile <= 1.0:
            raise ValueError(f"lam_quantile={self.lam_quantile} is out of range; it is a quantile level in (0, 1]")


@dataclass
class ClassStatistics:
    """Per-class detection statistics; arrays of length C.

    ``nd_score`` is what the non-disruptive test compares with ``nd_threshold``: S_ND itself under the paper's
    rule, the standardized runner-up score T under the calibrated one. The v histograms are on the v scale
    (paper) or the u = log v scale (calibrated), ``histogram_scale`` says which; ``lam`` is λ on that scale.
    """

    s_nd: np.ndarray  # mean per-dim log-likelihood of foreign samples under the class's flow (Eq. 2)
    s_d: np.ndarray  # fraction of the class left of the histogram minimum (Eq. 4); 0 where no minimum
    mu: np.ndarray  # the histogram minimum's left edge; NaN where none was found
    kind: list[str | None]  # DISRUPTIVE, NON_DISRUPTIVE or None per class
    v_histograms: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # class -> (counts, edges)
    rule: str = "paper"
    nd_score: np.ndarray | None = None
    nd_threshold: float = float("nan")
    nd_pvalue: np.ndarray | None = None  # calibrated rule only
    d_pvalue: np.ndarray | None = None  # calibrated rule only: the valley's p-value (1 where none)
    runner_up: np.ndarray | None = None  # calibrated rule only: R_c, the median runner-up share
    lam: np.ndarray | None = None
    histogram_scale: str = "v"

    @property
    def flagged(self) -> list[int]:
        return [c for c, kind in enumerate(self.kind) if kind is not None]


def check_loglik(loglik: np.ndarray, labels: np.ndarray) -> None:
    """Refuse non-finite likelihoods and classes too small to score, naming the fix."""
    if loglik.ndim != 2 or len(loglik) != len(labels):
        raise ValueError(f"log-likelihoods must be (N, C) with one row per label, got {loglik.shape} for {len(labels)}")
    bad = ~np.isfinite(loglik)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(f"{bad.sum()} non-finite log-likelihoods (samples {rows[:5].tolist()}...): a flow diverged "
                         "or the features hold NaN/inf. Fix: check the features, lower the flow learning rate.")
    counts = np.bincount(labels, minlength=loglik.shape[1])
    if loglik.shape[1] < 2 or (counts < 2).any():
        raise ValueError(f"every class needs at least 2 samples and there must be at least 2 classes; counts {counts}")


def max_foreign(loglik: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """max_{k != y_i} ℓ_k(z_i) and its argmax, for every sample."""
    masked = loglik.copy()
    masked[np.arange(len(labels)), labels] = -np.inf
    best = masked.argmax(axis=1)
    return masked[np.arange(len(labels)), best], best


def foreign_mean(loglik: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """S_ND of Eq. 2 for every class: the mean per-dim log-likelihood of the other classes' samples."""
    return np.array([loglik[labels != c, c].mean() for c in range(loglik.shape[1])])


# ---- the paper's rule -------------------------------------------------------------------------------------


def disruptive_statistic(v: np.ndarray, config: DetectionConfig) -> tuple[float, float, bool, tuple]:
    """(S_D, μ, flagged, (counts, edges)) for one class's maximum foreign densities v (Eq. 3)."""
    counts, edges = np.histogram(v, bins=config.bins, range=(v.min(), v.max()))
    below = int(np.sum(edges < config.lam))
    if below <= 1:  # no whole bin lies left of λ
        return 0.0, float("nan"), False, (counts, edges)
    m = int(np.argmin(counts[: below - 1]))
    left = int(counts[:m].sum())
    s_d = left / len(v)
    flagged = s_d > config.beta_d
    if config.histogram_guards:
        flagged = flagged and m != 0 and left >= 2 * counts[m]
    return s_d, float(edges[m]), bool(flagged), (counts, edges)


def _paper_rule(loglik: np.ndarray, labels: np.ndarray, config: DetectionConfig) -> ClassStatistics:
    num_classes = loglik.shape[1]
    foreign_best, _ = max_foreign(loglik, labels)
    v = np.exp(foreign_best)
    s_nd = foreign_mean(loglik, labels)
    stats = ClassStatistics(s_nd=s_nd, s_d=np.zeros(num_classes), mu=np.full(num_classes, np.nan),
                            kind=[None] * num_classes, nd_score=s_nd, nd_threshold=-config.beta_nd,
                            lam=np.full(num_classes, config.lam))
    for c in range(num_classes):
        s_d, mu, disruptive, hist = disruptive_statistic(v[labels == c], config)
        stats.s_d[c], stats.mu[c] = s_d, mu
        stats.v_histograms[c] = hist
        if disruptive:
            stats.kind[c] = DISRUPTIVE
        elif s_nd[c] > -config.beta_nd:
            stats.kind[c] = NON_DISRUPTIVE
    return stats


# ---- the calibrated rule ----------------------------------------------------------------------------------


def runner_up_shares(loglik: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(C, C) matrix: entry [c, k] is the share of class k's samples whose runner-up (best other-class flow) is c.

    Shares are smoothed by half a count per cell (a class never seen as a runner-up still has a share); the diagonal
    is NaN.
    """
    num_classes = loglik.shape[1]
    _, runner_up = max_foreign(loglik, labels)
    counts = np.zeros((num_classes, num_classes))
    np.add.at(counts, (runner_up, labels), 1)
    sizes = np.bincount(labels, minlength=num_classes)
    shares = (counts + 0.5) / (sizes + 0.5 * (num_classes - 1))[None, :]
    np.fill_diagonal(shares, np.nan)
    return shares


def outlier_scores(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, one-sided p) for each value against the others: T = (x_c − mean_{-c}) / (sd_{-c} √(1 + 1/(C−1))),
    Student's t with C−2 degrees of freedom when the C values are exchangeable normal draws."""
    n = len(values)
    scores = np.empty(n)
    for c in range(n):
        others = np.delete(values, c)
        spread = max(float(others.std(ddof=1)), 1e-12 * max(1.0, float(np.abs(others).max())))
        scores[c] = (values[c] - others.mean()) / (spread * np.sqrt(1 + 1 / (n - 1)))
    return scores, scipy_stats.t.sf(scores, df=n - 2)


def valley_test(u: np.ndarray, lam_u: float, config: DetectionConfig, tests: int) -> tuple[float, float, float, tuple]:
    """(S_D, μ, p-value, (counts, edges)) of the deepest valley of one class's u = log v below ``lam_u``.

    ``tests`` is the number of classes the level α is shared among; the bins searched share it further.
    """
    q25, q75 = np.quantile(u, [0.25, 0.75])
    width = 2 * (q75 - q25) / len(u) ** (1 / 3)  # Freedman-Diaconis
    span = float(u.max() - u.min())
    bins = int(np.clip(np.ceil(span / width), 3, 1000)) if width > 0 and span > 0 else 3
    counts, edges = np.histogram(u, bins=bins)
    need = config.beta_d * len(u)
    left = np.concatenate([[0], np.cumsum(counts)[:-1]])  # mass of the bins left of each bin
    right = len(u) - left - counts
    candidates = [m for m in range(1, bins - 1) if edges[m + 1] <= lam_u and left[m] >= need and right[m] >= need]
    best_p, best_m = 1.0, None
    for m in candidates:
        peak_left, peak_right = counts[:m].max(), counts[m + 1 :].max()
        p = max(scipy_stats.binom.cdf(counts[m], counts[m] + peak, 0.5) for peak in (peak_left, peak_right))
        if p < best_p:
            best_p, best_m = float(p), m
    if best_m is None:
        return 0.0, float("nan"), 1.0, (counts, edges)
    # the level is shared by the classes and, within one, by the candidate bins
    corrected = min(1.0, best_p * len(candidates) * tests)
    return float(left[best_m] / len(u)), float(edges[best_m]), corrected, (counts, edges)


def _calibrated_rule(loglik: np.ndarray, labels: np.ndarray, config: DetectionConfig) -> ClassStatistics:
    num_classes = loglik.shape[1]
    if num_classes < MIN_CLASSES_CALIBRATED:
        raise ValueError(f"the calibrated detection rule compares each class with the others and needs at least "
                         f"{MIN_CLASSES_CALIBRATED} classes; this set has {num_classes}. Fix: --set "
                         "detection.rule=paper")
    u, _ = max_foreign(loglik, labels)
    runner_up = np.nanmedian(runner_up_shares(loglik, labels), axis=1)
    scores, pvalues = outlier_scores(np.sqrt(runner_up))  # a share's spread made independent of its level
    level = config.false_alarm / num_classes
    stats = ClassStatistics(s_nd=foreign_mean(loglik, labels), s_d=np.zeros(num_classes),
                            mu=np.full(num_classes, np.nan), kind=[None] * num_classes, rule="calibrated",
                            nd_score=scores, nd_threshold=float(scipy_stats.t.isf(level, df=num_classes - 2)),
                            nd_pvalue=pvalues, d_pvalue=np.ones(num_classes), runner_up=runner_up,
                            lam=np.zeros(num_classes), histogram_scale="u")
    for c in range(num_classes):
        members = labels == c
        stats.lam[c] = float(np.quantile(u[~members], config.lam_quantile))
        s_d, mu, p, hist = valley_test(u[members], stats.lam[c], config, num_classes)
        stats.s_d[c], stats.mu[c], stats.d_pvalue[c] = s_d, mu, p
        stats.v_histograms[c] = hist
        if p < config.false_alarm:
            stats.kind[c] = DISRUPTIVE
        elif pvalues[c] < level:
            stats.kind[c] = NON_DISRUPTIVE
    return stats


def detect_target_classes(loglik: np.ndarray, labels: np.ndarray, config: DetectionConfig) -> ClassStatistics:
    check_loglik(loglik, labels)
    rule = _calibrated_rule if config.rule == "calibrated" else _paper_rule
    return rule(loglik, labels, config)
