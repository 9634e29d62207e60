"""Head-to-head comparisons: a fixed evaluator picks the better of two answers, in both orders.

The evaluator sees the project's comparison prompt (`srlm/prompts/compare.txt`, written for
srlm) with the two answers as "Response A" and "Response B", and its preference is read as
the probabilities of the next tokens " A" and " B" after the assistant prefix
`VERDICT_PREFIX` (a local model), or from the letter it replies with (an endpoint). Each pair
is judged twice with the answers swapped; only a verdict that survives the swap counts, an
inconsistent one is a tie. That removes the evaluator's position bias from the win rate
instead of letting it pick a side.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import polars as pl

from srlm.core.summaries import mean, rounded
from srlm.evaluation.intervals import comparison_intervals

COMPARE_PROMPT_FILE = "compare.txt"
VERDICT_PREFIX = "The better response is Response"
OPTIONS = (" A", " B")
_VARIABLES = re.compile(r"\{(instruction|response_a|response_b)\}")


@cache
def compare_template() -> str:
    """The comparison prompt (package data `srlm/prompts/compare.txt`)."""
    text = resources.files("srlm.prompts").joinpath(COMPARE_PROMPT_FILE).read_text("utf-8")
    return text.removesuffix("\n")


def render_compare_prompt(instruction: str, response_a: str, response_b: str) -> str:
    """Fill the comparison prompt in one pass (braces inside the texts stay as they are)."""
    values = {"instruction": instruction, "response_a": response_a, "response_b": response_b}
    return _VARIABLES.sub(lambda m: values[m.group(1)], compare_template())


def preference(p_first: float, p_second: float) -> float | None:
    """The share of the two options' probability on the first; None when both are 0."""
    total = p_first + p_second
    return p_first / total if total > 0 else None


def outcome(model_as_a: float | None, model_as_b: float | None) -> str:
    """`win`, `loss` or `tie` from the model's preference share in each order.

    `model_as_a` is P(model's answer preferred) when it was shown first, `model_as_b` when it
    was shown second. A win needs > 0.5 in both orders; a loss < 0.5 in both; anything else
    (including an exact 0.5 or an unusable order) is a tie.
    """
    if model_as_a is None or model_as_b is None:
        return "tie"
    if model_as_a > 0.5 and model_as_b > 0.5:
        return "win"
    if model_as_a < 0.5 and model_as_b < 0.5:
        return "loss"
    return "tie"


def comparison_prompts(rows: pl.DataFrame) -> list[str]:
    """Two comparison prompts per row of `prompt, answer, other`: the model's answer as
    Response A, then as Response B."""
    prompts = []
    for prompt, answer, other in rows.select("prompt", "answer", "other").iter_rows():
        prompts.append(render_compare_prompt(prompt, answer, other))
        prompts.append(render_compare_prompt(prompt, other, answer))
    return prompts


def verdict_frame(
    rows: pl.DataFrame, probabilities: list[list[float]], model: str, opponent: str
) -> pl.DataFrame:
    """A `verdicts` frame from the evaluator's (P(" A"), P(" B")) per comparison prompt, in
    the order of `comparison_prompts(rows)`."""
    if len(probabilities) != 2 * rows.height:
        raise ValueError(f"expected {2 * rows.height} probability pairs, got {len(probabilities)}")
    as_a = [preference(pa, pb) for pa, pb in probabilities[0::2]]
    as_b = [preference(pb, pa) for pa, pb in probabilities[1::2]]
    return rows.select("prompt_id", "source").with_columns(
        model=pl.lit(model),
        opponent=pl.lit(opponent),
        model_as_a=pl.Series(as_a, dtype=pl.Float64),
        model_as_b=pl.Series(as_b, dtype=pl.Float64),
        outcome=pl.Series([outcome(a, b) for a, b in zip(as_a, as_b, strict=True)], dtype=pl.Utf8),
    )


def head_to_head_metrics(verdicts: pl.DataFrame) -> dict:
    """Win / tie / loss counts and rates of a `verdicts` frame, overall and per source.

    `win_rate_ties_half` counts a tie as half a win (AlpacaEval's convention);
    `mean_preference` is the mean of the model's preference share over both orders, a soft
    win rate that still moves when every verdict is a tie; `soft_win_rate` averages the two
    orders per comparison first, then over comparisons (with `soft_win_rate_ci95`), and
    `flip_rate` and `win_rate_ci95` are as in `intervals.comparison_intervals`.
    """

    def summary(frame: pl.DataFrame) -> dict:
        n = frame.height
        counts = {k: int((frame["outcome"] == k).sum()) for k in ("win", "tie", "loss")}
        shares = pl.concat([frame["model_as_a"], frame["model_as_b"]]).drop_nulls()
        return {
            "n": n,
            "wins": counts["win"],
            "ties": counts["tie"],
            "losses": counts["loss"],
            "win_rate": round(counts["win"] / n, 4) if n else None,
            "tie_rate": round(counts["tie"] / n, 4) if n else None,
            "loss_rate": round(counts["loss"] / n, 4) if n else None,
            "win_rate_ties_half": round((counts["win"] + counts["tie"] / 2) / n, 4) if n else None,
            "mean_preference": rounded(mean(shares)) if shares.len() else None,
            **comparison_intervals(frame),
        }

    metrics = summary(verdicts)
    metrics["by_source"] = {
        source: summary(group)
        for (source,), group in verdicts.sort("source").group_by("source", maintain_order=True)
    }
    return metrics
