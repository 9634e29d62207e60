"""Bootstrap intervals and paired differences of the evaluation metrics."""

import numpy as np
import polars as pl
import pytest

from srlm.evaluation.intervals import bootstrap_ci, comparison_intervals
from srlm.evaluation.metrics import (
    judge_group_table,
    judge_intervals,
    paired_accuracy_difference,
    reward_model_metrics,
)


def judge_frame(n_groups: int, noise: float, seed: int = 0) -> pl.DataFrame:
    """Groups of 3 replies ranked 0..2; the judge's score is the human order plus noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_groups):
        for rank in range(3):
            score = float(np.clip(round(4 - rank + rng.normal(0, noise)), 0, 5))
            rows.append({"group_id": f"g{g}", "human_rank": rank, "score": score})
    return pl.DataFrame(rows)


def test_interval_is_deterministic_and_holds_the_estimate():
    frame = judge_frame(60, noise=1.5)
    point = reward_model_metrics(frame)
    ci = judge_intervals(frame)
    assert ci == judge_intervals(frame)  # seeded
    for name in ("pairwise_accuracy", "spearman", "kendall_tau"):
        low, high = ci[f"{name}_ci95"]
        assert low <= point[name] <= high and low < high


def test_ratio_statistic_equals_metrics_recomputed_on_a_resample():
    """One bootstrap draw, done by hand: resample groups, recompute pairwise accuracy."""
    frame = judge_frame(25, noise=1.2, seed=3)
    table = judge_group_table(frame)
    index = np.random.default_rng(7).integers(0, table.height, size=table.height)
    resampled = pl.concat(
        [
            frame.filter(pl.col("group_id") == table["group_id"][int(i)]).with_columns(
                group_id=pl.lit(f"draw{k}")
            )
            for k, i in enumerate(index)
        ]
    )
    by_hand = reward_model_metrics(resampled)["pairwise_accuracy"]
    ratio = table["correct"].to_numpy()[index].sum() / table["pairs"].to_numpy()[index].sum()
    assert by_hand == pytest.approx(ratio, abs=1e-4)


def test_more_prompts_narrow_the_interval():
    small = judge_intervals(judge_frame(20, noise=1.5))["pairwise_accuracy_ci95"]
    large = judge_intervals(judge_frame(400, noise=1.5))["pairwise_accuracy_ci95"]
    assert large[1] - large[0] < small[1] - small[0]


def test_perfect_judge_and_empty_input():
    perfect = judge_intervals(judge_frame(10, noise=0))
    assert perfect["pairwise_accuracy_ci95"] == [1.0, 1.0]
    assert bootstrap_ci(0, lambda index: index.sum(axis=1)) is None
    unparsed = judge_frame(5, noise=0).with_columns(score=pl.lit(None, pl.Float64))
    assert judge_intervals(unparsed)["spearman_ci95"] is None


def test_paired_difference_of_two_judges_on_the_same_pairs():
    good = judge_frame(50, noise=0)
    reversed_judge = good.with_columns(score=5 - pl.col("score"))
    same = paired_accuracy_difference(good, good)
    assert same["pairwise_accuracy_diff"] == 0 and same["pairwise_accuracy_diff_ci95"] == [0, 0]
    gain = paired_accuracy_difference(good, reversed_judge)
    assert gain["pairwise_accuracy_diff"] == 1.0 and gain["n_pairs"] == 150
    noisy = judge_frame(50, noise=2.0, seed=1)
    diff = paired_accuracy_difference(noisy, good)
    expected = (
        reward_model_metrics(noisy)["pairwise_accuracy"]
        - reward_model_metrics(good)["pairwise_accuracy"]
    )
    assert diff["pairwise_accuracy_diff"] == pytest.approx(expected, abs=1e-3)
    low, high = diff["pairwise_accuracy_diff_ci95"]
    assert low <= diff["pairwise_accuracy_diff"] <= high < 0


def verdicts(a, b, outcome):
    return pl.DataFrame(
        {"model_as_a": a, "model_as_b": b, "outcome": outcome},
        schema={"model_as_a": pl.Float64, "model_as_b": pl.Float64, "outcome": pl.Utf8},
    )


def test_position_bias_flips_every_verdict_and_cancels_in_the_soft_rate():
    biased = comparison_intervals(verdicts([0.2] * 10, [0.8] * 10, ["tie"] * 10))
    assert biased["flip_rate"] == 1.0 and biased["soft_win_rate"] == 0.5
    assert biased["win_rate_ci95"] == [0.0, 0.0]
    consistent = comparison_intervals(verdicts([0.9] * 10, [0.7] * 10, ["win"] * 10))
    assert consistent["flip_rate"] == 0.0 and consistent["soft_win_rate"] == 0.8
    assert consistent["win_rate_ci95"] == [1.0, 1.0]
    mixed = comparison_intervals(
        verdicts(
            [0.9, None, 0.3, 0.6] * 3, [0.7, None, 0.4, 0.2] * 3, ["win", "tie", "loss", "tie"] * 3
        )
    )
    assert mixed["flip_rate"] == pytest.approx(1 / 3, abs=1e-4)  # undecided row left out
    assert mixed["soft_win_rate"] == pytest.approx((0.8 + 0.35 + 0.4) / 3, abs=1e-4)
    low, high = mixed["soft_win_rate_ci95"]
    assert low <= mixed["soft_win_rate"] <= high


def test_too_few_items_give_no_interval_rather_than_a_falsely_narrow_one():
    from srlm.evaluation.intervals import MIN_ITEMS, difference_summary, mean_statistic

    values = np.array([0.0, 1.0] * MIN_ITEMS)
    for n in (1, 2, MIN_ITEMS - 1):
        assert bootstrap_ci(n, mean_statistic(values[:n])) is None
        assert difference_summary("d", n, mean_statistic(values[:n])) == {
            "d_ci95": None,
            "d_mde": None,
        }
    enough = difference_summary("d", MIN_ITEMS, mean_statistic(values[:MIN_ITEMS]))
    low, high = enough["d_ci95"]
    assert low < 0.5 < high and enough["d_mde"] > 0
