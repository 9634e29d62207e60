"""Preference pairs from self-judged candidates: chosen = best mean score, rejected = worst.

Three modes (`pairs.mode`):
- `max_min` (the paper): chosen = the highest mean score, rejected = the lowest;
- `anchored` (Temporal Self-Rewarding's anchored rejection): as `max_min`, but the rejected
  answer is M1's candidate for the same prompt (the `anchors` artifact) when the judge scored
  it lower than the iteration's worst — the rejected side stays anchored to a weak model while
  the chosen side improves, so the pairs do not converge;
- `length_controlled` (Meta-Rewarding, DICE): among the candidates within
  `pairs.length_epsilon` of the top score, the shortest is chosen, so length alone never wins.

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

from srlm.core.summaries import mean, rounded

PAIR_MODES = ("max_min", "anchored", "length_controlled")
DROP_REASONS = (
    "single_candidate",
    "all_unparsed",
    "one_scored",
    "tie",
    "small_margin",
    "identical",
)
# Margins whose pair yield the pairs metrics always report, next to the configured one.
REPORTED_MARGINS = (0.0, 0.25, 0.5, 1.0)
PAIR_COLUMNS = [
    "prompt_id",
    "prompt",
    "chosen",
    "rejected",
    "chosen_score",
    "rejected_score",
    "margin",
]


def build_pairs(
    scored: pl.DataFrame,
    min_margin: float = 0.0,
    mode: str = "max_min",
    length_epsilon: float = 0.0,
    anchors: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Pairs artifact rows and drop counts from `prompt_id, candidate_id, prompt, response,
    mean_score` (null = unscored); a best-worst gap below `min_margin` drops the prompt.
    `anchors` (`prompt_id, candidate_id, response, mean_score`) are used in `anchored` mode."""
    if mode not in PAIR_MODES:
        raise ValueError(f"pairs mode {mode!r} is not one of {PAIR_MODES}")
    groups = scored.group_by("prompt_id").agg(
        n=pl.len(),
        n_scored=pl.col("mean_score").count(),
        best=pl.col("mean_score").max(),
        worst=pl.col("mean_score").min(),
    )
    reason = (
        pl.when(pl.col("n") < 2)
        .then(pl.lit("single_candidate"))
        .when(pl.col("n_scored") == 0)
        .then(pl.lit("all_unparsed"))
        .when(pl.col("n_scored") == 1)
        .then(pl.lit("one_scored"))
        .when(pl.col("best") == pl.col("worst"))
        .then(pl.lit("tie"))
        .when(pl.col("best") - pl.col("worst") < min_margin)
        .then(pl.lit("small_margin"))
    )
    groups = groups.with_columns(reason=reason)
    counts = dict(groups.group_by("reason").len().drop_nulls("reason").iter_rows())
    drops = {name: int(counts.get(name, 0)) for name in DROP_REASONS}

    keep = groups.filter(pl.col("reason").is_null()).select("prompt_id", "best")
    candidates = scored.join(keep, on="prompt_id").filter(pl.col("mean_score").is_not_null())
    if mode == "length_controlled":
        # The shortest of the near-top candidates; then the higher score, then the id.
        chosen = candidates.filter(pl.col("mean_score") >= pl.col("best") - length_epsilon)
        chosen = chosen.with_columns(_length=pl.col("response").str.len_chars()).sort(
            ["prompt_id", "_length", "mean_score", "candidate_id"],
            descending=[False, False, True, False],
        )
    else:
        chosen = candidates.sort(
            ["prompt_id", "mean_score", "candidate_id"], descending=[False, True, False]
        )
    chosen = (
        chosen.group_by("prompt_id", maintain_order=True)
        .first()
        .select("prompt_id", "prompt", chosen="response", chosen_score="mean_score")
    )
    pool = candidates.select("prompt_id", "candidate_id", "response", "mean_score")
    if mode == "anchored" and anchors is not None:
        # M1's candidates compete for the rejected side of the prompts that kept a pair.
        pool = pl.concat(
            [
                pool,
                anchors.join(keep, on="prompt_id", how="semi")
                .filter(pl.col("mean_score").is_not_null())
                .select(pool.columns),
            ]
        )
    rejected = (
        pool.sort(["prompt_id", "mean_score", "candidate_id"])
        .group_by("prompt_id", maintain_order=True)
        .first()
        .select("prompt_id", rejected="response", rejected_score="mean_score")
    )
    pairs = (
        chosen.join(rejected, on="prompt_id")
        .with_columns(margin=pl.col("chosen_score") - pl.col("rejected_score"))
        .select(PAIR_COLUMNS)
        .sort("prompt_id")
    )
    # Only length_controlled can pick a chosen answer no better than the rejected one.
    no_gain = pl.col("margin") <= 0
    drops["tie"] += pairs.filter(no_gain).height
    pairs = pairs.filter(~no_gain)
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
        "mean_margin": rounded(mean(pairs["margin"])) if pairs.height else None,
        "mean_chosen_score": rounded(mean(pairs["chosen_score"])) if pairs.height else None,
        "mean_rejected_score": rounded(mean(pairs["rejected_score"])) if pairs.height else None,
    }


def yield_by_setting(scored: pl.DataFrame, modes: dict[str, str], min_margin: float) -> dict:
    """Share of prompts that give a pair, per scoring mode (score column) and minimum margin:
    what each tie-handling setting would keep, for the pairs metrics."""
    margins = sorted({*REPORTED_MARGINS, min_margin})
    table: dict[str, dict[str, float | None]] = {}
    for mode, column in modes.items():
        frame = scored.with_columns(mean_score=pl.col(column))
        table[mode] = {}
        for margin in margins:
            pairs, drops = build_pairs(frame, margin)
            total = pairs.height + sum(drops.values())
            table[mode][f"{margin:g}"] = round(pairs.height / total, 4) if total else None
    return table


def pairs_metrics(
    pairs: pl.DataFrame, drops: dict[str, int], scored: pl.DataFrame, candidates: pl.DataFrame, cfg
) -> dict:
    """The pairs stage's metrics: `pair_statistics`, the settings (`cfg`: the `pairs`
    params), the rejected answers that came from the anchors (mode `anchored`), and the yield
    of every scoring mode and margin (`yield_by_setting` of the `scored` candidates)."""
    stats = pair_statistics(pairs, drops)
    stats.update(min_margin=cfg.min_margin, mode=cfg.mode)
    if cfg.mode == "length_controlled":
        stats["length_epsilon"] = cfg.length_epsilon
    if cfg.mode == "anchored":  # rejected answers that are not among the iteration's own
        stats["anchored_rejections"] = pairs.join(
            candidates.select("prompt_id", rejected="response"),
            on=["prompt_id", "rejected"],
            how="anti",
        ).height
    stats["yield_by_setting"] = yield_by_setting(
        scored, {"sampled": "sampled_score", "expected": "expected_score"}, cfg.min_margin
    )
    return stats
