"""Preference pairs from self-judged candidates: chosen = best mean score, rejected = worst.

Per prompt, a pair is kept only when it is informative; otherwise the prompt is dropped and
counted under one reason:
- `single_candidate`: fewer than two candidates were generated;
- `all_unparsed`: no candidate got a parseable score;
- `one_scored`: only one candidate was scored (nothing to compare it with);
- `tie`: the best and worst mean scores are equal;
- `identical`: the chosen and rejected texts are the same (no preference to learn).
Ties between candidates at the top (or bottom) are broken by `candidate_id`, so the same
input always gives the same pairs, byte for byte.
"""

from __future__ import annotations

import polars as pl

DROP_REASONS = ("single_candidate", "all_unparsed", "one_scored", "tie", "identical")
PAIR_COLUMNS = ["prompt_id", "prompt", "chosen", "rejected", "chosen_score", "rejected_score",
                "margin"]


def build_pairs(scored: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """Pairs artifact rows and drop counts from `prompt_id, candidate_id, prompt, response,
    mean_score` (null = unscored)."""
    groups = scored.group_by("prompt_id").agg(
        n=pl.len(),
        n_scored=pl.col("mean_score").count(),
        best=pl.col("mean_score").max(),
        worst=pl.col("mean_score").min(),
    )
    reason = (
        pl.when(pl.col("n") < 2).then(pl.lit("single_candidate"))
        .when(pl.col("n_scored") == 0).then(pl.lit("all_unparsed"))
        .when(pl.col("n_scored") == 1).then(pl.lit("one_scored"))
        .when(pl.col("best") == pl.col("worst")).then(pl.lit("tie"))
    )
    groups = groups.with_columns(reason=reason)
    counts = dict(groups.group_by("reason").len().drop_nulls("reason").iter_rows())
    drops = {name: int(counts.get(name, 0)) for name in DROP_REASONS}

    keep = groups.filter(pl.col("reason").is_null()).select("prompt_id")
    candidates = scored.join(keep, on="prompt_id").filter(pl.col("mean_score").is_not_null())
    chosen = (
        candidates.sort(
            ["prompt_id", "mean_score", "candidate_id"], descending=[False, True, False]
        )
        .group_by("prompt_id", maintain_order=True).first()
        .select("prompt_id", "prompt", chosen="response", chosen_score="mean_score")
    )
    rejected = (
        candidates.sort(["prompt_id", "mean_score", "candidate_id"])
        .group_by("prompt_id", maintain_order=True).first()
        .select("prompt_id", rejected="response", rejected_score="mean_score")
    )
    pairs = (
        chosen.join(rejected, on="prompt_id")
        .with_columns(margin=pl.col("chosen_score") - pl.col("rejected_score"))
        .select(PAIR_COLUMNS)
        .sort("prompt_id")
    )
    identical = pl.col("chosen") == pl.col("rejected")
    drops["identical"] = pairs.filter(identical).height
    return pairs.filter(~identical), drops


def pair_statistics(pairs: pl.DataFrame, drops: dict[str, int]) -> dict:
    """Pairs kept, dropped by reason, yield, and margin summary (for DVC metrics)."""
    total = pairs.height + sum(drops.values())
    return {
        "prompts": total,
        "pairs": pairs.height,
        "yield": round(pairs.height / total, 4) if total else None,
        "dropped": drops,
        "mean_margin": round(pairs["margin"].mean(), 4) if pairs.height else None,
        "mean_chosen_score": round(pairs["chosen_score"].mean(), 4) if pairs.height else None,
        "mean_rejected_score": round(pairs["rejected_score"].mean(), 4) if pairs.height else None,
    }
