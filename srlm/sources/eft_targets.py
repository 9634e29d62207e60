"""What an EFT example teaches the judge: the 0-5 target score of a human-labelled reply
(`target_scores`) and the text the judge is trained to write for it (`judge_target`).
"""

from __future__ import annotations

import polars as pl

# Templated justifications, one per score, phrased along the rubric's additive criteria.
JUSTIFICATIONS = {
    0: "The response does not address the user's question: it is irrelevant, empty or "
    "unhelpful, so no criterion is met.",
    1: "The response is related to the question and gives some information, but it is "
    "largely incomplete, off-target or wrong, so only the first point is earned.",
    2: "The response addresses part of the question but leaves important parts unresolved or "
    "contains errors, earning the first two points.",
    3: "The response answers the basic elements of the question in a useful way, but it lacks "
    "completeness, accuracy or organisation expected of a strong AI Assistant answer.",
    4: "The response is written from an AI Assistant's perspective and addresses the question "
    "directly and comprehensively; it is well organised and helpful, with slight room for "
    "improvement.",
    5: "The response is impeccably tailored to the question, accurate, complete and concise, "
    "reflecting expert knowledge without extraneous information.",
}


def target_scores(replies: pl.DataFrame) -> pl.Series:
    """Human labels -> 0-5 judge targets, one per reply row.

    With a human quality label (0-1) on every reply of the group, score = round(5 * quality):
    the label's scale maps onto the rubric's points. Otherwise ranks are spread evenly from 5
    (best) down to 1 (worst) within the group, so a two-reply group gives 5 and 1 rather than
    the 5-vs-4 targets that teach a judge to give everything 4 or 5.
    """
    all_quality = pl.col("quality").is_not_null().all().over("group_id")
    from_quality = (pl.col("quality") * 5 + 0.5).floor()
    worst = pl.col("rank").max().over("group_id")
    spread = 5 - (4 * pl.col("rank") / pl.when(worst > 0).then(worst).otherwise(1)).round(0)
    expr = pl.when(all_quality).then(from_quality).otherwise(spread).clip(0, 5).cast(pl.Int64)
    return replies.select(target_score=expr).to_series()


def judge_target(score: int, style: str = "justified") -> str:
    """The EFT training target: `justified` = a short rubric-worded justification, then
    `Score: N` on its own line (the paper's format); `score_only` = just `Score: N`.

    A templated justification names the score before the `Score:` line, so a judge trained
    on it decides at the justification's first words and its probabilities at the score
    position say little. With `score_only` the decision is the score token itself: what
    expected-score judging reads, and judging takes a few tokens instead of ~60.
    """
    if style == "score_only":
        return f"Score: {score}"
    return f"{JUSTIFICATIONS[score]}\nScore: {score}"
