"""Monitors for the ways a self-rewarding loop fails, one set per iteration.

Later work on this loop names its failure modes: judge scores piling up at the top of the
scale, chosen and rejected answers converging (the score gap shrinks), answers growing
longer every iteration, and a judge whose rankings drift between iterations (CREAM's
consistency). `loop_monitors` measures them from an iteration's artifacts:

- `top_score_share`: share of the iteration's parsed judge samples at the top score (5);
- `score_gap`: mean chosen − rejected score of its pairs;
- `length_gap_chars`: mean chosen − rejected length of its pairs, in characters;
- `length_ratio_vs_m1`: mean length of the iteration's model's answers to the evaluation
  prompts over M1's answers to the same prompts;
- `pair_yield`: pairs per prompt; `parse_rate`: parsed judge samples;
- `judge_consistency_tau`: Kendall τ-b between the scores the iteration's judge (its base
  model) gave a seeded sample of its candidates and the scores the model this iteration
  trained gives the same candidates: how far one round of DPO moved the judge's ranking.
"""

from __future__ import annotations

import random

import numpy as np
import polars as pl

from srlm.core.summaries import mean, rounded
from srlm.loop.judge import aggregate_scores, judge_candidates

TOP_SCORE = 5.0


def _round(value) -> float | None:
    return None if value is None else round(float(value), 4)


def consistency_sample(candidate_ids: list[str], size: int, seed: int) -> list[str]:
    """A seeded sample of candidates to re-judge, the same on every machine."""
    ids = sorted(candidate_ids)
    random.Random(f"{seed}:consistency").shuffle(ids)
    return sorted(ids[:size])


def kendall_tau_b(x: list[float], y: list[float]) -> float | None:
    """Kendall τ-b of two score lists (pairs with a null on either side left out); None when
    either side has no two different values. Every pair of items is compared (numpy, in row
    blocks: 0.8 s for 10,000 items, the params' cap, on 2 cores)."""
    kept = [(a, b) for a, b in zip(x, y, strict=True) if a is not None and b is not None]
    xs = np.array([a for a, _ in kept], dtype=np.float64)
    ys = np.array([b for _, b in kept], dtype=np.float64)
    concordant = discordant = ties_x = ties_y = 0
    for start in range(0, len(kept), 256):
        rows = slice(start, start + 256)
        later = np.arange(len(kept))[None, :] > np.arange(len(kept))[rows, None]  # j > i
        dx = np.sign(xs[rows, None] - xs[None, :])
        dy = np.sign(ys[rows, None] - ys[None, :])
        concordant += int(((dx * dy > 0) & later).sum())
        discordant += int(((dx * dy < 0) & later).sum())
        ties_x += int(((dx == 0) & (dy != 0) & later).sum())
        ties_y += int(((dy == 0) & (dx != 0) & later).sum())
    total = concordant + discordant
    denominator = ((total + ties_x) * (total + ties_y)) ** 0.5
    return (concordant - discordant) / denominator if denominator else None


def loop_monitors(
    judgments: pl.DataFrame,
    pairs: pl.DataFrame,
    n_prompts: int,
    answers: pl.DataFrame,
    m1_answers: pl.DataFrame,
    judge_scores: pl.DataFrame,
    rejudged_scores: pl.DataFrame,
) -> dict:
    """The monitors above. `judge_scores` / `rejudged_scores`: `candidate_id, score` from the
    iteration's judge and from the trained model, on the consistency sample."""
    parsed = judgments["score"].drop_nulls()
    both = answers.select("prompt_id", chars=pl.col("response").str.len_chars()).join(
        m1_answers.select("prompt_id", m1=pl.col("response").str.len_chars()), on="prompt_id"
    )
    matched = judge_scores.join(rejudged_scores, on="candidate_id", suffix="_after")
    chars, m1_chars = mean(both["chars"]), mean(both["m1"])
    return {
        "top_score_share": _round((parsed == TOP_SCORE).mean()) if parsed.len() else None,
        "score_gap": _round(pairs["margin"].mean()) if pairs.height else None,
        "length_gap_chars": _round(
            (
                pairs["chosen"].str.len_chars().cast(pl.Int64)
                - pairs["rejected"].str.len_chars().cast(pl.Int64)
            ).mean()
        )
        if pairs.height
        else None,
        "length_ratio_vs_m1": _round(chars / m1_chars) if chars is not None and m1_chars else None,
        "pair_yield": _round(pairs.height / n_prompts) if n_prompts else None,
        "parse_rate": _round(parsed.len() / judgments.height) if judgments.height else None,
        "judge_consistency_tau": _round(
            kendall_tau_b(matched["score"].to_list(), matched["score_after"].to_list())
        ),
        "judge_consistency_n": matched.height,
    }


def self_judge_agreement(
    generator, rows: list[tuple[str, str, str, str]], scores: pl.DataFrame, cfg, scope: str
) -> dict:
    """With an external judge (`judge.model`): the iteration's own model (`generator`) judges
    a seeded sample of the candidate `rows` (`cfg.agreement_sample`, `cfg` the `judge`
    params); how far its mean scores agree with the external judge's `scores` (Kendall tau-b,
    mean absolute difference, pairs compared)."""
    picked = set(
        consistency_sample(scores["candidate_id"].to_list(), cfg.agreement_sample, cfg.random_seed)
    )
    own = aggregate_scores(
        judge_candidates(generator, [r for r in rows if r[0] in picked], cfg, scope=scope),
        cfg.scoring,
    ).select("candidate_id", own="mean_score")
    both = scores.select("candidate_id", "mean_score").join(own, on="candidate_id")
    return {
        "kendall_tau": kendall_tau_b(both["mean_score"].to_list(), both["own"].to_list()),
        "mean_abs_diff": rounded(mean((both["mean_score"] - both["own"]).abs()))
        if both.height
        else None,
        "n": both.height,
    }
