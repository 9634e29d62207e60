"""The loop's failure-mode monitors on small frames."""

import polars as pl
import pytest
from scipy.stats import kendalltau

from srlm.evaluation.monitors import consistency_sample, kendall_tau_b, loop_monitors


def test_kendall_tau_b_matches_scipy_with_ties():
    x = [1.0, 2.0, 2.0, 3.0, 5.0, 4.0, 4.0]
    y = [2.0, 1.0, 3.0, 3.0, 5.0, 5.0, 4.0]
    assert kendall_tau_b(x, y) == pytest.approx(kendalltau(x, y).statistic)
    assert kendall_tau_b([1.0, None, 3.0], [1.0, 2.0, 3.0]) == 1.0  # nulls left out
    assert kendall_tau_b([2.0, 2.0], [1.0, 3.0]) is None  # one side constant


def test_kendall_tau_b_matches_scipy_across_row_blocks():
    import random

    rng = random.Random(0)
    x = [float(rng.randint(0, 5)) for _ in range(700)]  # 0-5 scores: many ties, 3 blocks
    y = [a if rng.random() < 0.6 else float(rng.randint(0, 5)) for a in x]
    assert kendall_tau_b(x, y) == pytest.approx(kendalltau(x, y).statistic, rel=1e-12)


def test_consistency_sample_is_seeded_and_bounded():
    ids = [f"c{i}" for i in range(50)]
    picked = consistency_sample(ids, 16, seed=0)
    assert len(picked) == 16 and picked == consistency_sample(list(reversed(ids)), 16, seed=0)
    assert picked != consistency_sample(ids, 16, seed=1)
    assert consistency_sample(ids[:3], 16, seed=0) == sorted(ids[:3])


def test_loop_monitors_on_a_small_iteration():
    judgments = pl.DataFrame({"score": [5.0, 5.0, 3.0, None, 1.0, 4.0]})
    pairs = pl.DataFrame(
        {"chosen": ["long answer", "abc"], "rejected": ["short", "abcdef"], "margin": [2.0, 1.0]}
    )
    answers = pl.DataFrame({"prompt_id": ["p1", "p2"], "response": ["x" * 300, "y" * 100]})
    m1 = pl.DataFrame({"prompt_id": ["p1", "p2", "p3"], "response": ["x" * 100] * 3})
    before = pl.DataFrame({"candidate_id": ["a", "b", "c"], "score": [1.0, 3.0, 5.0]})
    after = pl.DataFrame({"candidate_id": ["a", "b", "c"], "score": [5.0, 3.0, 1.0]})
    monitors = loop_monitors(judgments, pairs, 4, answers, m1, before, after)
    assert monitors["top_score_share"] == 0.4  # 2 of 5 parsed samples
    assert monitors["score_gap"] == 1.5
    assert monitors["length_gap_chars"] == pytest.approx(((11 - 5) + (3 - 6)) / 2)
    assert monitors["length_ratio_vs_m1"] == 2.0  # on the prompts both answered
    assert monitors["pair_yield"] == 0.5 and monitors["parse_rate"] == pytest.approx(
        5 / 6, abs=1e-4
    )
    assert monitors["judge_consistency_tau"] == -1.0 and monitors["judge_consistency_n"] == 3
    empty = loop_monitors(
        judgments.clear(), pairs.clear(), 0, answers, m1, before.clear(), after.clear()
    )
    assert empty["score_gap"] is None and empty["judge_consistency_tau"] is None


def test_self_judge_agreement_of_a_judge_with_itself_is_perfect():
    from srlm.core.params import JudgeParams
    from srlm.engines.fake import FakeGenerator
    from srlm.evaluation.monitors import self_judge_agreement
    from srlm.loop.judge import aggregate_scores, judge_candidates

    cfg = JudgeParams(agreement_sample=5, samples=2)
    rows = [(f"c{i}", f"p{i % 3}", f"prompt {i % 3}", f"answer {i}") for i in range(12)]
    scores = aggregate_scores(judge_candidates(FakeGenerator(), rows, cfg, "self:m2"))
    agreement = self_judge_agreement(FakeGenerator(), rows, scores, cfg, "self:m2")
    assert agreement["n"] == 5 and agreement["mean_abs_diff"] == 0.0
    assert agreement["kendall_tau"] in (1.0, None)  # None only if the 5 scores all tie
    # another judge (other seeds) disagrees somewhere on the same sample
    other = self_judge_agreement(FakeGenerator(), rows, scores, cfg, "another")
    assert other["n"] == 5 and other["mean_abs_diff"] > 0
