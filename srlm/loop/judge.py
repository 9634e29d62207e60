"""LLM-as-a-Judge: render the paper's additive 5-point prompt, parse scores, aggregate samples.

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

Two scoring modes (`judge.scoring`): `sampled` is the paper's, the number the judge wrote;
`expected` reads the judge's next-token probabilities of "0".."5" at the step where it wrote
that number (recorded while generating; engines that cannot record them are asked with one
forward pass over the text before it) and takes their expectation, a continuous score that
ties far less often. Both are computed for every
judgment, so metrics always show both; a judgment without a parseable score is `None` in both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from functools import cache
from importlib import resources

import polars as pl

from srlm.core.config import as_dict
from srlm.core.requests import GenerationRequest, user_request
from srlm.core.schemas import polars_schema
from srlm.core.shards import request_seed
from srlm.core.workers import ShardTask

JUDGE_PROMPT_FILE = "judge.txt"
SCORING_MODES = ("sampled", "expected")
SCORE_OPTIONS = tuple(str(score) for score in range(6))

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


def judge_requests(items: Iterable[tuple[str, str]], cfg, scope: str) -> list[GenerationRequest]:
    """One request per `(request_id, judge prompt)`: `cfg.samples` samples with the judge's
    sampling params (a `JudgeConfig`), seeded by (random seed, `scope`, id) only, so a request's
    samples never depend on its shard or batch. `scope` keeps the loop's seeds (the iteration
    name) apart from the judge evaluation's."""
    return [
        user_request(request_id, text, n=cfg.samples, temperature=cfg.temperature,
                     top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens,
                     seed=request_seed(cfg.random_seed, scope, request_id))
        for request_id, text in items
    ]


def judge_model(cfg, own: str) -> str:
    """The loop's judge: `judge.model` when set (an external judge), else the iteration's
    own model `own` (the paper's self-rewarding)."""
    return cfg.model or own


def sampling_params(cfg) -> dict:
    """The judge params that decide its samples, for fingerprints: all but `scoring`, which
    only changes how finished samples are averaged (so changing it never re-judges), and the
    judge model and agreement sample (see below)."""
    # The judge model is an input (hashed by content), not a param; the agreement sample only
    # decides an extra check.
    return {k: v for k, v in as_dict(cfg).items()
            if k not in ("scoring", "model", "agreement_sample")}


def judge_samples(generator, requests) -> list[dict]:
    """Generate the judgments of `requests` and score each one both ways.

    Rows `request_id, sample, judge_text, score, expected_score, score_probs, finish_reason`;
    `score_probs` are P("0").."5") at the score position (null when unparsed). They are
    recorded while the judgment is generated (the requests watch "0".."5"); an engine that
    does not record them is asked afterwards with one forward pass per parsed judgment.
    """
    requests = [replace(r, watch=SCORE_OPTIONS) for r in requests]
    completions = generator.generate(requests)
    by_id = {r.request_id: r for r in requests}
    prefixes = [score_prefix(c.text) for c in completions]
    probs_of: dict[int, list[float]] = {}
    for i, (completion, prefix) in enumerate(zip(completions, prefixes, strict=True)):
        recorded = completion.watched_at(len(prefix)) if prefix is not None else None
        if recorded is not None:
            probs_of[i] = list(recorded)
    todo = [i for i, prefix in enumerate(prefixes) if prefix is not None and i not in probs_of]
    if todo:
        asked = generator.option_probabilities(
            [by_id[completions[i].request_id] for i in todo], [prefixes[i] for i in todo],
            SCORE_OPTIONS)
        probs_of.update(zip(todo, asked, strict=True))
    return [
        {"request_id": c.request_id, "sample": c.index, "judge_text": c.text,
         "score": parse_score(c.text), "expected_score": expected_score(probs_of.get(i)),
         "score_probs": probs_of.get(i), "finish_reason": c.finish_reason}
        for i, c in enumerate(completions)
    ]


def samples_frame(rows: list[dict], id_column: str) -> pl.DataFrame:
    """`judge_samples` rows as a frame: `request_id` renamed to `id_column`, the sample columns
    typed as in the judgments artifact (a batch with no parsed score stays Float64), plus
    `finish_reason`."""
    judged = {k: v for k, v in polars_schema("judgments").items()
              if k not in ("prompt_id", "candidate_id")}
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        id_column: pl.Utf8, **judged, "finish_reason": pl.Utf8}
    return pl.DataFrame([{id_column: r["request_id"], **{k: r[k] for k in schema if k in r}}
                         for r in rows], schema=schema)


def judge_candidates(generator, candidates: Iterable[tuple[str, str, str, str]], cfg,
                     scope: str) -> pl.DataFrame:
    """Judge `(candidate_id, prompt_id, prompt, response)` rows with `generator`: the paper's
    prompt, `cfg.samples` samples each seeded by `scope` (see `judge_requests`), as a
    `judgments` artifact frame."""
    candidates = list(candidates)
    requests = judge_requests(
        [(cid, render_judge_prompt(prompt, response)) for cid, _, prompt, response in candidates],
        cfg, scope)
    return judgments_frame(judge_samples(generator, requests),
                           {cid: pid for cid, pid, _, _ in candidates})


def judgments_frame(rows: list[dict], prompt_of: dict[str, str]) -> pl.DataFrame:
    """`judge_samples` rows of candidates as a `judgments` artifact frame; `prompt_of` maps
    each candidate id to its prompt id."""
    samples = samples_frame(rows, "candidate_id")
    return samples.with_columns(prompt_id=samples["candidate_id"].replace_strict(prompt_of)
                                ).select(list(polars_schema("judgments")))


def aggregate_scores(judgments: pl.DataFrame, scoring: str = "sampled") -> pl.DataFrame:
    """Per candidate: the mean of its parsed samples in each mode (null when none parsed),
    `mean_score` = the one `scoring` selects, and how many samples parsed."""
    if scoring not in SCORING_MODES:
        raise ValueError(f"unknown scoring mode {scoring!r} (expected {SCORING_MODES})")
    return (
        judgments.group_by("prompt_id", "candidate_id", maintain_order=True)
        .agg(
            sampled_score=pl.col("score").mean(),
            expected_score=pl.col("expected_score").mean(),
            n_parsed=pl.col("score").count().cast(pl.Int64),
        )
        .with_columns(mean_score=pl.col(f"{scoring}_score"))
        .select("prompt_id", "candidate_id", "mean_score", "n_parsed", "sampled_score",
                "expected_score")
        .sort("prompt_id", "candidate_id")
    )


def score_histogram(scores: pl.Series) -> dict[str, int]:
    """Parsed scores rounded to whole points 0..5 (all keys present), plus `unparsed`."""
    rounded = scores.drop_nulls().round(0).cast(pl.Int64)
    counts = dict(rounded.value_counts().iter_rows()) if rounded.len() else {}
    histogram = {str(s): int(counts.get(s, 0)) for s in range(6)}
    histogram["unparsed"] = int(scores.null_count())
    return histogram


class JudgeTask(ShardTask):
    """A shard of `(candidate_id, prompt_id, prompt, response)` rows -> its `judgments` frame
    (`judge_candidates` with `cfg`, a `JudgeConfig`, seeds scoped by `scope`)."""

    def __init__(self, recipe, cfg, scope: str):
        super().__init__(recipe)
        self.cfg, self.scope = cfg, scope

    def build(self, rows):
        return judge_candidates(self.generator, rows, self.cfg, scope=self.scope)


class JudgeSamplesTask(ShardTask):
    """A shard of `(id, judge prompt)` items -> their samples (`samples_frame` with the id
    column `id_column`), as `judge_requests` makes them with `cfg` and `scope`."""

    def __init__(self, recipe, cfg, scope: str, id_column: str):
        super().__init__(recipe)
        self.cfg, self.scope, self.id_column = cfg, scope, id_column

    def build(self, items):
        requests = judge_requests(items, self.cfg, self.scope)
        return samples_frame(judge_samples(self.generator, requests), self.id_column)
