"""LLM-as-a-Judge in the loop: judge requests, samples scored both ways, aggregation.

The prompt and the score parsing rules are in `srlm.loop.judge_prompt`.

Two scoring modes (`judge.scoring`): `sampled` is the paper's, the number the judge wrote;
`expected` reads the judge's next-token probabilities of "0".."5" at the step where it wrote
that number (recorded while generating; engines that cannot record them are asked with one
forward pass over the text before it) and takes their expectation, a continuous score that
ties far less often. Both are computed for every
judgment, so metrics always show both; a judgment without a parseable score is `None` in both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import polars as pl

from srlm.core.params import as_dict
from srlm.core.schemas import polars_schema
from srlm.core.summaries import mean, rounded
from srlm.loop.judge_prompt import (
    SCORE_OPTIONS,
    SCORING_MODES,
    expected_score,
    parse_score,
    render_judge_prompt,
    score_histogram,
    score_prefix,
)
from srlm.runtime.requests import GenerationRequest, user_request
from srlm.runtime.shards import request_seed
from srlm.runtime.workers import ShardTask


def judge_requests(items: Iterable[tuple[str, str]], cfg, scope: str) -> list[GenerationRequest]:
    """One request per `(request_id, judge prompt)`: `cfg.samples` samples with the judge's
    sampling params (a `JudgeParams`), seeded by (random seed, `scope`, id) only, so a request's
    samples never depend on its shard or batch. `scope` keeps the loop's seeds (the iteration
    name) apart from the judge evaluation's."""
    return [
        user_request(
            request_id,
            text,
            n=cfg.samples,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            max_new_tokens=cfg.max_new_tokens,
            seed=request_seed(cfg.random_seed, scope, request_id),
        )
        for request_id, text in items
    ]


def judge_model(cfg, own: str) -> str:
    """The loop's judge: `judge.model` when set (an external judge), else the iteration's
    own model `own` (the paper's self-rewarding)."""
    return cfg.model or own


# The judge params that do not decide its samples, left out of fingerprints: `scoring` only
# changes how finished samples are averaged (so changing it never re-judges); the judge model
# is an input (hashed by content), not a param; the agreement sample only decides an extra check.
# The endpoint's settings: its URL and model are identity the judgments stage adds itself
# (`stage.fingerprint(**extra)`), the rest (key variable, deadline, concurrency, retries) only
# decide how requests travel; left out, every fingerprint without an endpoint stays as it was.
ENDPOINT_KEYS = (
    "endpoint",
    "endpoint_model",
    "api_key_env",
    "timeout_s",
    "allow_insecure_http",
    "endpoint_top_logprobs",
    "concurrency",
    "retry_attempts",
    "retry_backoff_s",
    "retry_max_wait_s",
)
UNHASHED = (
    "judge.scoring",
    "judge.model",
    "judge.agreement_sample",
    *(f"judge.{key}" for key in ENDPOINT_KEYS),
)


def sampling_params(cfg) -> dict:
    """The judge params that decide its samples, for fingerprints: all but `UNHASHED`."""
    return {k: v for k, v in as_dict(cfg).items() if f"judge.{k}" not in UNHASHED}


def judge_samples(generator, requests) -> list[dict]:
    """Generate the judgments of `requests` and score each one both ways.

    Rows `request_id, sample, judge_text, score, expected_score, score_probs, finish_reason`;
    `score_probs` are P("0").."5") at the score position (null when unparsed). They are
    recorded while the judgment is generated (the requests watch "0".."5"); an engine that
    does not record them is asked afterwards with one forward pass per parsed judgment, except
    an endpoint (`prefix_scoring` False): there they are null where its logprobs are missing.
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
    # An endpoint cannot continue a given text (chat APIs cannot resume an assistant turn):
    # what its logprobs did not give stays null rather than being made up.
    if todo and getattr(generator, "prefix_scoring", True):
        asked = generator.option_probabilities(
            [by_id[completions[i].request_id] for i in todo],
            [prefixes[i] for i in todo],
            SCORE_OPTIONS,
        )
        probs_of.update(zip(todo, asked, strict=True))
    return [
        {
            "request_id": c.request_id,
            "sample": c.index,
            "judge_text": c.text,
            "score": parse_score(c.text),
            "expected_score": expected_score(probs_of.get(i)),
            "score_probs": probs_of.get(i),
            "finish_reason": c.finish_reason,
        }
        for i, c in enumerate(completions)
    ]


def samples_frame(rows: list[dict], id_column: str) -> pl.DataFrame:
    """`judge_samples` rows as a frame: `request_id` renamed to `id_column`, the sample columns
    typed as in the judgments artifact (a batch with no parsed score stays Float64), plus
    `finish_reason`."""
    judged = {
        k: v
        for k, v in polars_schema("judgments").items()
        if k not in ("prompt_id", "candidate_id")
    }
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        id_column: pl.Utf8,
        **judged,
        "finish_reason": pl.Utf8,
    }
    return pl.DataFrame(
        [{id_column: r["request_id"], **{k: r[k] for k in schema if k in r}} for r in rows],
        schema=schema,
    )


def judge_candidates(
    generator, candidates: Iterable[tuple[str, str, str, str]], cfg, scope: str
) -> pl.DataFrame:
    """Judge `(candidate_id, prompt_id, prompt, response)` rows with `generator`: the paper's
    prompt, `cfg.samples` samples each seeded by `scope` (see `judge_requests`), as a
    `judgments` artifact frame."""
    candidates = list(candidates)
    requests = judge_requests(
        [(cid, render_judge_prompt(prompt, response)) for cid, _, prompt, response in candidates],
        cfg,
        scope,
    )
    return judgments_frame(
        judge_samples(generator, requests), {cid: pid for cid, pid, _, _ in candidates}
    )


def judgments_frame(rows: list[dict], prompt_of: dict[str, str]) -> pl.DataFrame:
    """`judge_samples` rows of candidates as a `judgments` artifact frame; `prompt_of` maps
    each candidate id to its prompt id."""
    samples = samples_frame(rows, "candidate_id")
    return samples.with_columns(prompt_id=samples["candidate_id"].replace_strict(prompt_of)).select(
        list(polars_schema("judgments"))
    )


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
        .select(
            "prompt_id", "candidate_id", "mean_score", "n_parsed", "sampled_score", "expected_score"
        )
        .sort("prompt_id", "candidate_id")
    )


def judgment_metrics(judgments: pl.DataFrame, scores: pl.DataFrame, scoring: str) -> dict:
    """The judgments stage's metrics: counts, parse rate, unscored candidates, histograms of
    both scores and their means (None when nothing parsed)."""
    parsed = int(judgments["score"].is_not_null().sum())
    return {
        "scoring": scoring,
        "candidates": scores.height,
        "samples": judgments.height,
        "parse_rate": round(parsed / judgments.height, 4) if judgments.height else None,
        "candidates_unscored": int(scores["mean_score"].is_null().sum()),
        "score_histogram": score_histogram(judgments["score"]),
        "expected_score_histogram": score_histogram(judgments["expected_score"]),
        "mean_score": rounded(mean(judgments["score"])) if parsed else None,
        "mean_expected_score": rounded(mean(judgments["expected_score"])) if parsed else None,
    }


def parsed_without_probs(judgments: pl.DataFrame) -> int:
    """Samples with a parsed score but no score probabilities (an endpoint that returned no
    logprobs at the score): their expected score is null."""
    return int((judgments["score"].is_not_null() & judgments["score_probs"].is_null()).sum())


class JudgeTask(ShardTask):
    """A shard of `(candidate_id, prompt_id, prompt, response)` rows -> its `judgments` frame
    (`judge_candidates` with `cfg`, a `JudgeParams`, seeds scoped by `scope`)."""

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
