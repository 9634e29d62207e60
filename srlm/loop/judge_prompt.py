"""The judge's text: the paper's additive 5-point prompt, rendered, and its scores parsed.

Parsing reads only the judge's own output and takes the *last* `Score:` label in it; a score
outside 0-5 or a label without a well-formed number is `None`: never a made-up 0 or -1, because
a coerced failure would make unparseable answers win "worst response". The rules:
- the label is the word `score` in ASCII letters, any case, not inside a longer word
  (`Subscore:` is none), then an ASCII colon; whitespace and markdown emphasis (`*`, `_`) may
  surround the colon (`**Score:** 4`, `_Score_: 5`, `score:4`). A full-width colon
  (`Score：4`) or look-alike letters are not a label: the judge prompt asks for `Score:`, and
  the number rules below are ASCII too, so one consistent alphabet.
- the last label decides, even when no valid number follows it (`Score: 4 ... Score: unclear`
  is `None`);
- right after the label (and any emphasis) comes the number: ASCII digits with at most one
  decimal point and digits after it (`4`, `3.5`, `04`); full-width or Arabic-Indic digits,
  signs (`-1`), `.5` are `None`;
- the number must end there: a letter or digit right after it, or after `.`/`,` right after
  it, makes it malformed and `None` (`4.5.6`, `0x5`, `4e2`, `4,5`, `4.x`, `4th`, `4٥`); a
  sentence period or comma, emphasis, a space are fine (`Score: 4.`, `Score: **4**`,
  `Score: 4, because`);
- a scale after it on the same line must be 5: `4/5`, `4 / 5`, `3 out of 5` read 4 and 3,
  while `4/10` or `3 out of 10` are another scale and `None` (a `/10` on the next line is
  just more text);
- the value must lie in 0..5 (`Score: 10` is `None`, not 1; `3.5` is 3.5).
`score_prefix` is the text up to where that number starts, by the same match.

No engine, no runtime: the seed stage renders EFT targets with it and generates nothing.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import polars as pl

from srlm.core.schemas import SCORE_VALUES

JUDGE_PROMPT_FILE = "judge.txt"
# `judge.scoring`: the number the judge wrote, or the expectation of its 0..5 probabilities
SCORING_MODES = ("sampled", "expected")
SCORE_OPTIONS = tuple(str(score) for score in range(SCORE_VALUES))  # "0".."5": score_probs

# The label: ASCII "score" in any case, not inside a longer word (no letter or digit, of any
# script, before it), optional emphasis, an ASCII colon, optional emphasis.
_LABEL = re.compile(r"(?<![^\W_])[Ss][Cc][Oo][Rr][Ee][\s*_]*:[\s*_]*")
# The number: ASCII digits, one optional decimal part, and then no letter or digit (of any
# script), not even after a run of "." or "," ("4.5.6", "4,5", "0x5" are malformed).
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?![.,]*[^\W_])")
# An optional scale after the number, on its line: "/ 5" or "out of 5" (emphasis tolerated).
_SCALE = re.compile(r"[ \t*_]*(?:/|[Oo][Uu][Tt][ \t]+[Oo][Ff])[ \t*_]*([0-9]+(?:\.[0-9]+)?)")
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


def _final_score(text: str) -> tuple[float, int] | None:
    """The score after the last label and where its number starts, or None (module rules)."""
    labels = list(_LABEL.finditer(text or ""))
    if not labels:
        return None
    start = labels[-1].end()
    number = _NUMBER.match(text, start)
    if number is None:
        return None
    scale = _SCALE.match(text, number.end())
    if scale is not None and float(scale.group(1)) != 5.0:
        return None
    value = float(number.group(0))
    return (value, start) if 0.0 <= value <= 5.0 else None


def parse_score(text: str) -> float | None:
    """The judge's final `Score:` as a float in [0, 5], or `None` when it is missing or invalid
    (the rules are in the module docstring)."""
    found = _final_score(text)
    return None if found is None else found[0]


def score_prefix(text: str) -> str | None:
    """The judge's text up to the number of its final `Score:`, or None when unparseable: the
    same match as `parse_score`, so the number starts right at `len(prefix)`."""
    found = _final_score(text)
    return None if found is None else text[: found[1]]


def expected_score(probabilities: list[float] | None) -> float | None:
    """The expectation of scores 0..5 under `probabilities` (renormalised over the six)."""
    if not probabilities:
        return None
    total = sum(probabilities)
    if total <= 0:
        return None
    return sum(score * p for score, p in enumerate(probabilities)) / total


def score_histogram(scores: pl.Series) -> dict[str, int]:
    """Parsed scores rounded to whole points 0..5 (all keys present), plus `unparsed`."""
    rounded = scores.drop_nulls().round(0).cast(pl.Int64)
    counts = dict(rounded.value_counts().iter_rows()) if rounded.len() else {}
    histogram = {str(s): int(counts.get(s, 0)) for s in range(6)}
    histogram["unparsed"] = int(scores.null_count())
    return histogram
