"""Preference pairs from self-judged candidates: chosen = best mean score, rejected = worst.

Per prompt, a pair is kept only when it is informative; otherwise the prompt is dropped and
counted under one reason:
- `single_candidate`: fewer than two candidates were generated;
- `all_unparsed`: no candidate got a parseable score;
- `one_scored`: only one candidate was scored (nothing to compare it with);
- `tie`: the best and worst mean scores are equal;
- `small_margin`: they differ by less than `min_margin` (params `pairs.min_margin`);
- `identical`: the chosen and rejected texts are the same (no preference to learn).
Ties between candidates at the top (or bottom) are broken by `candidate_id`, so the same
input always gives the same pairs, byte for byte.
"""

from __future__ import annotations

import polars as pl

DROP_REASONS = ("single_candidate", "all_unparsed", "one_scored", "tie", "small_margin",
                "identical")
# Margins whose pair yield the pairs metrics always report, next to the configured one.
REPORTED_MARGINS = (0.0, 0.25, 0.5, 1.0)
PAIR_COLUMNS = ["prompt_id", "prompt", "chosen", "rejected", "chosen_score", "rejected_score",
                "margin"]


def build_pairs(scored: pl.DataFrame, min_margin: float = 0.0
                ) -> tuple[pl.DataFrame, dict[str, int]]:
    """Pairs artifact rows and drop counts from `prompt_id, candidate_id, prompt, response,
    mean_score` (null = unscored); a best-worst gap below `min_margin` drops the prompt."""
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
        .when(pl.col("best") - pl.col("worst") < min_margin).then(pl.lit("small_margin"))
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


def yield_by_setting(scored: pl.DataFrame, modes: dict[str, str], min_margin: float) -> dict:
    """Share of prompts that give a pair, per scoring mode (score column) and minimum margin:
    what each tie-handling setting would keep, for the pairs metrics."""
    margins = sorted({*REPORTED_MARGINS, min_margin})
    table = {}
    for mode, column in modes.items():
        frame = scored.with_columns(mean_score=pl.col(column))
        table[mode] = {}
        for margin in margins:
            pairs, drops = build_pairs(frame, margin)
            total = pairs.height + sum(drops.values())
            table[mode][f"{margin:g}"] = round(pairs.height / total, 4) if total else None
    return table
