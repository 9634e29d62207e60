"""Reward-model metrics checked by hand on small cases and against scipy on real oasst ranks."""

from __future__ import annotations

import math
from itertools import combinations

import polars as pl
import pytest
from scipy.stats import kendalltau, spearmanr

from srlm.evaluation.metrics import reward_model_metrics
from srlm.sources.readers import read_replies
from tests.helpers import repo_file


def frame(rows):
    return pl.DataFrame(
        rows,
        schema={"group_id": pl.Utf8, "human_rank": pl.Int64, "score": pl.Float64},
        orient="row",
    )


def test_hand_checked_ties_and_unparsed_scores():
    metrics = reward_model_metrics(
        frame(
            [
                ("a", 0, 5.0),
                ("a", 1, 3.0),
                ("a", 2, 3.0),  # 2 right, 1 judge tie
                ("b", 0, 2.0),
                ("b", 1, None),  # unparsed: a miss, not a tie
                ("c", 1, 1.0),
                ("c", 0, 4.0),  # right, listed worst first
            ]
        )
    )
    assert metrics["n_pairs"] == 5
    assert metrics["pairwise_accuracy"] == pytest.approx(3 / 5)
    assert metrics["tie_rate"] == pytest.approx(1 / 5)
    assert metrics["exact_match"] == pytest.approx(1 / 3, abs=1e-4)  # only c is fully right
    assert metrics["five_best"] == 1.0 and metrics["n_five"] == 1
    assert metrics["parse_rate"] == pytest.approx(6 / 7, abs=1e-4)
    assert metrics["n_groups"] == 3
    # a: spearman of [5,3,3] vs [0,-1,-2]; c: perfect; b has one scored reply only.
    assert metrics["n_groups_correlated"] == 2
    expected = (spearmanr([5, 3, 3], [0, -1, -2]).statistic + 1.0) / 2
    assert metrics["spearman"] == pytest.approx(expected, abs=1e-4)


def test_single_reply_and_equal_rank_groups_have_no_pairs():
    metrics = reward_model_metrics(
        frame(
            [
                ("solo", 0, 4.0),
                ("same", 0, 2.0),
                ("same", 0, 5.0),  # humans did not order these
            ]
        )
    )
    assert metrics["n_pairs"] == 0 and metrics["n_groups"] == 0
    assert metrics["pairwise_accuracy"] is None and metrics["exact_match"] is None
    assert metrics["spearman"] is None and metrics["n_groups_correlated"] == 0
    assert metrics["five_best"] == 1.0  # rank 0 is best in its group, even when shared


def test_constant_judge_scores_are_all_ties_and_never_correlate():
    metrics = reward_model_metrics(frame([("g", r, 4.0) for r in range(4)]))
    assert metrics["n_pairs"] == 6
    assert metrics["pairwise_accuracy"] == 0.0 and metrics["tie_rate"] == 1.0
    assert metrics["spearman"] is None and metrics["kendall_tau"] is None


def test_reversed_judge_is_perfectly_wrong():
    metrics = reward_model_metrics(frame([("g", r, float(r)) for r in range(4)]))
    assert metrics["pairwise_accuracy"] == 0.0 and metrics["tie_rate"] == 0.0
    assert metrics["spearman"] == pytest.approx(-1.0)
    assert metrics["kendall_tau"] == pytest.approx(-1.0)


def independent_metrics(groups: dict[str, list[tuple[int, float | None]]]) -> dict:
    """The same metrics computed the slow way: explicit pair loops and scipy per group."""
    n_pairs = correct = ties = 0
    exact, spearmans, kendalls = [], [], []
    fives = best_fives = 0
    for replies in groups.values():
        group_pairs = group_correct = 0
        best = min(rank for rank, _ in replies)
        for rank, score in replies:
            if score == 5.0:
                fives += 1
                best_fives += rank == best
        for (rank_a, score_a), (rank_b, score_b) in combinations(replies, 2):
            if rank_a == rank_b:
                continue
            group_pairs += 1
            if score_a is None or score_b is None:
                continue
            ties += score_a == score_b
            better, worse = (score_a, score_b) if rank_a < rank_b else (score_b, score_a)
            group_correct += better > worse
        n_pairs += group_pairs
        correct += group_correct
        if group_pairs:
            exact.append(group_correct == group_pairs)
        scored = [(rank, score) for rank, score in replies if score is not None]
        scores = [s for _, s in scored]
        preferences = [-r for r, _ in scored]
        if len(set(scores)) >= 2 and len(set(preferences)) >= 2:
            spearmans.append(spearmanr(scores, preferences).statistic)
            kendalls.append(kendalltau(scores, preferences).statistic)  # tau-b
    return {
        "pairwise_accuracy": correct / n_pairs,
        "tie_rate": ties / n_pairs,
        "n_pairs": n_pairs,
        "exact_match": sum(exact) / len(exact),
        "n_groups": len(exact),
        "five_best": best_fives / fives,
        "n_five": fives,
        "spearman": sum(spearmans) / len(spearmans),
        "kendall_tau": sum(kendalls) / len(kendalls),
        "n_groups_correlated": len(spearmans),
    }


def test_matches_scipy_on_real_oasst_validation_ranks():
    replies, _ = read_replies(str(repo_file("oasst", "oasst1_en_validation.messages.jsonl")))
    replies = replies.filter(pl.col("rank").is_not_null())
    # A noisy judge: mostly follows the human rank, sometimes ties, sometimes fails to parse.
    scores = []
    for i, rank in enumerate(replies["rank"].to_list()):
        noise = (i * 7919) % 11
        if noise == 0:
            scores.append(None)
        else:
            scores.append(float(max(0, min(5, 5 - rank - (noise % 3) + 1))))
    judged = replies.select("group_id", human_rank="rank").with_columns(
        score=pl.Series(scores, dtype=pl.Float64)
    )
    groups: dict[str, list] = {}
    for group, rank, score in judged.iter_rows():
        groups.setdefault(group, []).append((rank, score))
    expected = independent_metrics(groups)
    metrics = reward_model_metrics(judged)
    assert expected["n_pairs"] > 500 and expected["n_groups_correlated"] > 100
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-4), key
    assert not math.isnan(metrics["spearman"])
