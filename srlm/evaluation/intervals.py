"""How sure a number is: seeded bootstrap intervals over prompts, and paired differences.

Every evaluation rate is an average over prompts (a group of ranked replies for the judge, one
comparison for win rates), and prompts are what was sampled, so the bootstrap resamples
prompts with replacement (`N_BOOT` times, a fixed seed: the same data give the same interval
on every machine) and reports the 2.5th and 97.5th percentiles as `<name>_ci95: [lo, hi]`.
Resampling is vectorised with numpy over per-prompt sums, so an interval costs milliseconds.

Two models judged on the same items are compared by their paired difference: the same
resampled prompts for both, so the prompt-to-prompt variation they share cancels (the judge's
intervals and differences are in `srlm.evaluation.metrics`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

N_BOOT = 2000
SEED = 0
# Fewer items than this get no interval and no detectable difference (None): resampling 1 item
# gives a single point, 2 items three possible values, and below ~10 the percentile interval
# covers far less than 95% while looking precise (MT-Bench categories of 1-3 prompts once
# gave intervals a few points wide around a coin flip). Not enough data is said as None.
MIN_ITEMS = 10


def _resampled(
    n_items: int, statistic: Callable[[np.ndarray], np.ndarray], n_boot: int, seed: int
) -> np.ndarray:
    """The finite values of `statistic` over `n_boot` seeded resamples of `n_items` items."""
    index = np.random.default_rng(seed).integers(0, n_items, size=(n_boot, n_items))
    values = np.asarray(statistic(index), dtype=float)
    return values[np.isfinite(values)]


def bootstrap_ci(
    n_items: int,
    statistic: Callable[[np.ndarray], np.ndarray],
    n_boot: int = N_BOOT,
    seed: int = SEED,
) -> list[float] | None:
    """95% percentile interval of `statistic` over `n_boot` resamples of `n_items` items.

    `statistic` gets an index matrix (n_boot × n_items) and returns one value per row; rows
    whose value is not finite (nothing to count in that resample) are left out. None below
    `MIN_ITEMS` items or when no value is finite.
    """
    if n_items < MIN_ITEMS:
        return None
    return _interval(_resampled(n_items, statistic, n_boot, seed))


def _interval(values: np.ndarray) -> list[float] | None:
    if values.size == 0:
        return None
    low, high = np.quantile(values, [0.025, 0.975])
    return [round(float(low), 4), round(float(high), 4)]


# z(0.975) + z(0.80): a true difference this many standard errors from zero is found by a
# two-sided test at 5% with 80% probability (the usual power-analysis convention).
DETECT_Z = 1.959964 + 0.841621


def detectable_difference(
    n_items: int,
    statistic: Callable[[np.ndarray], np.ndarray],
    n_boot: int = N_BOOT,
    seed: int = SEED,
) -> float | None:
    """The smallest true difference the sample would detect: `DETECT_Z` × the bootstrap
    standard error of `statistic` (a paired difference, or a rate against its chance level).

    It reads "no difference" for what it is: a difference of 0.02 with a detectable
    difference of 0.15 says the sample was too small, not that the models are alike. The
    standard error comes from the data, so a sample where the two models never disagree has
    0 here (nothing varied); read it beside the number of discordant items. None below
    `MIN_ITEMS` items.
    """
    if n_items < MIN_ITEMS:
        return None
    return _detectable(_resampled(n_items, statistic, n_boot, seed))


def _detectable(values: np.ndarray) -> float | None:
    if values.size < 2:
        return None
    return round(float(DETECT_Z * values.std(ddof=1)), 4)


def difference_summary(
    name: str,
    n_items: int,
    statistic: Callable[[np.ndarray], np.ndarray],
    n_boot: int = N_BOOT,
    seed: int = SEED,
) -> dict:
    """`<name>_ci95` (`bootstrap_ci`) and `<name>_mde` (`detectable_difference`) of one
    statistic from one set of resamples (the same values both functions would compute)."""
    if n_items < MIN_ITEMS:
        return {f"{name}_ci95": None, f"{name}_mde": None}
    values = _resampled(n_items, statistic, n_boot, seed)
    return {f"{name}_ci95": _interval(values), f"{name}_mde": _detectable(values)}


def ratio_statistic(numerator: np.ndarray, denominator: np.ndarray):
    """Sum of `numerator` over sum of `denominator` of the resampled items (e.g. correct pairs
    over pairs per prompt: an accuracy weighted by pairs, as the point estimate is)."""

    def statistic(index: np.ndarray) -> np.ndarray:
        total = denominator[index].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, numerator[index].sum(axis=1) / total, np.nan)

    return statistic


def mean_statistic(values: np.ndarray):
    """Mean of the finite `values` of the resampled items (NaN = undefined for that item)."""

    def statistic(index: np.ndarray) -> np.ndarray:
        picked = values[index]
        counts = np.isfinite(picked).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, np.nansum(picked, axis=1) / counts, np.nan)

    return statistic


def comparison_intervals(verdicts: pl.DataFrame, n_boot: int = N_BOOT, seed: int = SEED) -> dict:
    """Of a `verdicts` frame: `win_rate_ci95`; `flip_rate`, the share of comparisons whose
    verdict changes when the order of the answers is swapped; `soft_win_rate`, the
    evaluator's probability that the model's answer is better averaged over both orders (a
    constant preference for one position cancels), with `soft_win_rate_ci95` and
    `soft_win_rate_mde` (`detectable_difference` from 0.5)."""
    n = verdicts.height
    wins = (verdicts["outcome"] == "win").to_numpy().astype(float)
    a, b = (
        verdicts[c].fill_null(np.nan).to_numpy().astype(float) for c in ("model_as_a", "model_as_b")
    )
    both = np.stack([a, b])
    counts = np.isfinite(both).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        soft = np.where(counts > 0, np.nansum(both, axis=0) / counts, np.nan)
    decided = np.isfinite(a) & np.isfinite(b)
    flips = (a > 0.5) != (b > 0.5)
    finite_soft = soft[np.isfinite(soft)]
    return {
        "win_rate_ci95": bootstrap_ci(n, ratio_statistic(wins, np.ones(n)), n_boot, seed),
        "flip_rate": round(float(flips[decided].mean()), 4) if decided.any() else None,
        "soft_win_rate": round(float(finite_soft.mean()), 4) if finite_soft.size else None,
        # _mde: how far from 0.5 (no preference) the soft win rate must be for this sample
        # to see it
        **difference_summary("soft_win_rate", n, mean_statistic(soft), n_boot, seed),
    }
