"""Evaluation metrics on frames (no models here: stages hand in generated outputs).

- `reward_model_metrics`: how well judge scores agree with human rankings (the paper's
  reward-modelling evaluation: pairwise accuracy, ties, 5-best, exact match, Spearman, Kendall).
- `judge_format_metrics`: has the model learned to write a parseable judgment? The share of
  judge outputs whose `Score:` parses, the score histogram, and the distance to the targets.
- `length_metrics`: answer lengths per model.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from srlm.core.summaries import mean, median
from srlm.evaluation.intervals import (
    N_BOOT,
    SEED,
    bootstrap_ci,
    difference_summary,
    mean_statistic,
    ratio_statistic,
)
from srlm.loop.judge_prompt import SCORING_MODES, score_histogram


def judge_format_metrics(outputs: pl.DataFrame) -> dict:
    """Parse rate, score histogram and agreement with targets for a `judge_outputs` frame."""
    n = outputs.height
    parsed = outputs.filter(pl.col("score").is_not_null())
    error = (parsed["score"] - parsed["target_score"]).abs()
    return {
        "n": n,
        "parsed": parsed.height,
        "parse_rate": round(parsed.height / n, 4) if n else None,
        "score_histogram": score_histogram(outputs["score"]),
        "mean_score": _rounded(mean(parsed["score"])) if parsed.height else None,
        "mean_abs_error_vs_target": _rounded(mean(error)) if parsed.height else None,
        "exact_match_vs_target": _rounded(mean(error == 0)) if parsed.height else None,
    }


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def judged_pairs(frame: pl.DataFrame) -> pl.DataFrame:
    """Every pair of replies to one prompt (i < j), with both human ranks and judge scores."""
    rows = frame.select("group_id", "human_rank", "score").with_row_index("i")
    return (
        rows.join(rows, on="group_id", suffix="_b")
        .filter(pl.col("i") < pl.col("i_b"))
        .rename({"human_rank": "rank_a", "score": "score_a", "human_rank_b": "rank_b"})
    )


def pair_outcomes(frame: pl.DataFrame) -> pl.DataFrame:
    """Every human-ordered pair of replies to one prompt with `correct` (the judge orders it
    as humans do; a judge tie or an unparsed score is not correct) and `tie` (both scored,
    equal scores)."""
    pairs = judged_pairs(frame).filter(pl.col("rank_a") != pl.col("rank_b"))
    both = pl.col("score_a").is_not_null() & pl.col("score_b").is_not_null()
    better_first = pl.col("rank_a") < pl.col("rank_b")
    correct = both & pl.when(better_first).then(pl.col("score_a") > pl.col("score_b")).otherwise(
        pl.col("score_b") > pl.col("score_a")
    )
    tie = both & (pl.col("score_a") == pl.col("score_b"))
    return pairs.with_columns(correct=correct.fill_null(False), tie=tie.fill_null(False))


def _group_correlations(frame: pl.DataFrame) -> pl.DataFrame:
    """Spearman and Kendall tau-b per group, on the replies the judge scored.

    Human preference is `-human_rank` (best = highest), so agreement is positive. A group
    needs two different scores and two different human ranks, else both are undefined.
    """
    scored = frame.filter(pl.col("score").is_not_null()).with_columns(
        preference=-pl.col("human_rank").cast(pl.Float64)
    )
    eligible = (
        scored.group_by("group_id")
        .agg(
            pl.col("score").n_unique().alias("n_scores"),
            pl.col("preference").n_unique().alias("n_ranks"),
        )
        .filter((pl.col("n_scores") >= 2) & (pl.col("n_ranks") >= 2))
        .select("group_id")
    )
    scored = scored.join(eligible, on="group_id", how="semi")
    # Spearman: Pearson correlation of average ranks (ties share the mean rank).
    spearman = (
        scored.with_columns(
            rx=pl.col("score").rank("average").over("group_id"),
            ry=pl.col("preference").rank("average").over("group_id"),
        )
        .group_by("group_id")
        .agg(spearman=pl.corr("rx", "ry"))
    )
    # Kendall tau-b from pair counts: (C - D) / sqrt((n0 - ties_x) * (n0 - ties_y)).
    pairs = judged_pairs(scored.select("group_id", "human_rank", "score"))
    sign = (pl.col("score_a") - pl.col("score_b")).sign() * (
        pl.col("rank_b") - pl.col("rank_a")
    ).sign()
    kendall = (
        pairs.group_by("group_id")
        .agg(
            n0=pl.len(),
            s=sign.sum(),
            ties_x=(pl.col("score_a") == pl.col("score_b")).sum(),
            ties_y=(pl.col("rank_a") == pl.col("rank_b")).sum(),
        )
        .with_columns(
            kendall_tau=pl.col("s")
            / ((pl.col("n0") - pl.col("ties_x")) * (pl.col("n0") - pl.col("ties_y"))).sqrt()
        )
        .select("group_id", "kendall_tau")
    )
    return spearman.join(kendall, on="group_id")


def reward_model_metrics(frame: pl.DataFrame) -> dict:
    """How well judge scores agree with human rankings (the paper's Table 4 metrics).

    `frame` has one row per reply: `group_id` (replies to one prompt), `human_rank`
    (0 = best) and `score` (the judge's score, e.g. the mean of K samples; null = unparsed).

    - pairwise_accuracy: of all pairs in a group with different human ranks, the share the
      judge orders the same way; a judge tie or an unparsed score counts as a miss.
    - tie_rate: share of those pairs both scored and scored equal.
    - five_best: of replies scored exactly 5, the share ranked best in their group by humans.
    - exact_match: share of groups (with at least one human-ordered pair) where the judge
      orders every human-ordered pair correctly.
    - spearman, kendall_tau: mean over groups with two different scores (and two different
      human ranks) of the rank correlation between score and human preference.
    - parse_rate, n_replies, n_groups, n_pairs, n_five, n_groups_correlated.
    Ratios with nothing to count are None.
    """
    n_replies = frame.height
    pairs = pair_outcomes(frame)
    per_group = pairs.group_by("group_id").agg(all_correct=pl.col("correct").all())
    best_rank = pl.col("human_rank").min().over("group_id")
    fives = frame.with_columns(best=pl.col("human_rank") == best_rank).filter(
        pl.col("score") == 5.0
    )
    correlations = _group_correlations(frame)
    n_pairs = pairs.height
    return {
        "pairwise_accuracy": _rounded(mean(pairs["correct"])) if n_pairs else None,
        "tie_rate": _rounded(mean(pairs["tie"])) if n_pairs else None,
        "five_best": _rounded(mean(fives["best"])) if fives.height else None,
        "exact_match": _rounded(mean(per_group["all_correct"])) if per_group.height else None,
        "spearman": _rounded(mean(correlations["spearman"])) if correlations.height else None,
        "kendall_tau": _rounded(mean(correlations["kendall_tau"])) if correlations.height else None,
        "parse_rate": _rounded(mean(frame["score"].is_not_null())) if n_replies else None,
        "n_replies": n_replies,
        "n_groups": per_group.height,
        "n_pairs": n_pairs,
        "n_five": fives.height,
        "n_groups_correlated": correlations.height,
    }


def length_metrics(answers: pl.DataFrame) -> dict:
    """Answer lengths (characters and tokens) of an `answers` frame, overall and per source."""
    chars = answers["response"].str.len_chars()
    by_source = (
        answers.with_columns(chars=chars)
        .group_by("source")
        .agg(pl.col("chars").mean().round(1))
        .sort("source")
    )
    return {
        "n": answers.height,
        "mean_chars": _rounded(mean(chars), 1),
        "median_chars": _rounded(median(chars), 1),
        "mean_tokens": _rounded(mean(answers["n_tokens"]), 1),
        "hit_max_new_tokens": int((answers["finish_reason"] == "length").sum()),
        "empty": int((answers["response"].str.strip_chars() == "").sum()),
        "mean_chars_by_source": dict(by_source.iter_rows()),
    }


def judge_group_table(frame: pl.DataFrame) -> pl.DataFrame:
    """Per prompt (group): human-ordered pairs, correctly ordered pairs, Spearman, Kendall τ
    (null where undefined). `frame` as for `reward_model_metrics`."""
    pairs = (
        pair_outcomes(frame)
        .group_by("group_id")
        .agg(pairs=pl.len().cast(pl.Int64), correct=pl.col("correct").sum().cast(pl.Int64))
    )
    groups = frame.select("group_id").unique()
    return (
        groups.join(pairs, on="group_id", how="left")
        .join(_group_correlations(frame), on="group_id", how="left")
        .with_columns(pl.col("pairs", "correct").fill_null(0))
        .sort("group_id")
    )


def judge_intervals(frame: pl.DataFrame, n_boot: int = N_BOOT, seed: int = SEED) -> dict:
    """`pairwise_accuracy_ci95`, `spearman_ci95`, `kendall_tau_ci95` of one judge."""
    table = judge_group_table(frame)
    pairs, correct = (table[c].to_numpy().astype(float) for c in ("pairs", "correct"))
    n = table.height
    return {
        "pairwise_accuracy_ci95": bootstrap_ci(n, ratio_statistic(correct, pairs), n_boot, seed),
        **{
            f"{name}_ci95": bootstrap_ci(
                n, mean_statistic(table[name].fill_null(np.nan).to_numpy()), n_boot, seed
            )
            for name in ("spearman", "kendall_tau")
        },
    }


def paired_accuracy_difference(
    frame: pl.DataFrame, baseline: pl.DataFrame, n_boot: int = N_BOOT, seed: int = SEED
) -> dict:
    """Pairwise accuracy of `frame` minus `baseline` on the prompts both judged, with the
    interval of the difference (the same resampled prompts for both) and the smallest
    difference this sample would detect (`intervals.detectable_difference`)."""
    mine, theirs = judge_group_table(frame), judge_group_table(baseline)
    both = mine.join(theirs, on="group_id", suffix="_base").filter(pl.col("pairs") > 0)
    pairs = both["pairs"].to_numpy().astype(float)
    gain = (both["correct"] - both["correct_base"]).to_numpy().astype(float)
    total = pairs.sum()
    return {
        "pairwise_accuracy_diff": round(float(gain.sum() / total), 4) if total else None,
        **difference_summary(
            "pairwise_accuracy_diff", both.height, ratio_statistic(gain, pairs), n_boot, seed
        ),
        "n_groups": both.height,
        "n_pairs": int(total),
    }


def reply_scores(outputs: pl.DataFrame, mode: str) -> pl.DataFrame:
    """One row per judged reply of a `judge_outputs` artifact: `example_id, group_id,
    human_rank, score`, the score the mean of its parsed samples in scoring `mode`
    (`sampled`: the numbers the judge wrote; `expected`: their expected scores)."""
    column = {"sampled": "score", "expected": "expected_score"}[mode]
    return outputs.group_by("example_id", "group_id", "human_rank", maintain_order=True).agg(
        score=pl.col(column).mean()
    )


def judge_evaluation_metrics(outputs: pl.DataFrame, samples: pl.DataFrame, cfg) -> dict:
    """The evaluate_judge stage's metrics: for each scoring mode the reward-model metrics
    against human ranks with their intervals, the samples' format, and the judgments cut at
    `max_new_tokens` (`samples` still has `finish_reason`; `cfg`: the `judge` params)."""
    return {
        "samples_per_reply": cfg.samples,
        "scoring": cfg.scoring,
        **{
            mode: {
                **reward_model_metrics(reply_scores(outputs, mode)),
                **judge_intervals(reply_scores(outputs, mode)),
            }
            for mode in SCORING_MODES
        },
        "samples": judge_format_metrics(outputs),
        "hit_max_new_tokens": int((samples["finish_reason"] == "length").sum()),
    }


def judge_accuracy_differences(mine: pl.DataFrame, theirs: pl.DataFrame) -> dict:
    """Per scoring mode, the paired difference of two models' judge accuracy on the same
    replies (`mine`, `theirs`: their evaluate_judge outputs)."""
    return {
        mode: paired_accuracy_difference(reply_scores(mine, mode), reply_scores(theirs, mode))
        for mode in SCORING_MODES
    }
