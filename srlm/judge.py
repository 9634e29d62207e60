"""LLM-as-a-Judge: render the paper's additive 5-point prompt, parse scores, aggregate samples.

Parsing reads only the judge's own output and takes the *last* `Score:` label in it
(case-insensitive, markdown emphasis tolerated, `4/5`, `4.` and `3 out of 5` accepted). A score
outside 0-5 or a label without a number is `None`: never a made-up 0 or -1, because a coerced
failure would make unparseable answers win "worst response".
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import polars as pl

JUDGE_PROMPT_FILE = "judge.txt"

# The label: "score" not inside a longer word, optional emphasis, a colon, optional emphasis.
_LABEL = re.compile(r"(?<![a-z0-9])score[\s*_]*:[\s*_]*", re.IGNORECASE)
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)(?![\d])")
_VARIABLES = re.compile(r"\{(instruction|response)\}")


@cache
def judge_template() -> str:
    """The paper's judge prompt (package data `srlm/prompts/judge.txt`), verbatim."""
    text = resources.files("srlm.prompts").joinpath(JUDGE_PROMPT_FILE).read_text("utf-8")
    return text.removesuffix("\n")


def render_judge_prompt(instruction: str, response: str, template: str | None = None) -> str:
    """Fill the judge prompt in one pass, so braces inside the texts are never substituted."""
    values = {"instruction": instruction, "response": response}
    return _VARIABLES.sub(lambda m: values[m.group(1)], template or judge_template())


def parse_score(text: str) -> float | None:
    """The judge's final `Score:` as a float in [0, 5], or `None` when it is missing or invalid."""
    labels = list(_LABEL.finditer(text or ""))
    if not labels:
        return None
    number = _NUMBER.match(text, labels[-1].end())
    if number is None:
        return None
    value = float(number.group(1))
    return value if 0.0 <= value <= 5.0 else None


def aggregate_scores(judgments: pl.DataFrame) -> pl.DataFrame:
    """Per candidate: mean of parsed samples (null when none parsed) and how many parsed."""
    return (
        judgments.group_by("prompt_id", "candidate_id", maintain_order=True)
        .agg(
            mean_score=pl.col("score").mean(),
            n_parsed=pl.col("score").count().cast(pl.Int64),
        )
        .sort("prompt_id", "candidate_id")
    )
