"""One pandera (polars) model per artifact of the self-rewarding loop.

Every artifact is validated on write (before the atomic rename) and on read. Models are strict:
an extra column is as much an error as a missing one, so two builds of one artifact always have
the same shape. `SCHEMAS` maps the name stored in `_manifest.json` to the model; bump
`SCHEMA_VERSION` when a model changes in a way old artifacts would not pass.

`polars_schema(name)` / `artifact_frame(name, rows)` build frames from the same models.
`validate(frame, name, where)` raises `ArtifactSchemaError` with one line naming the artifact,
each failing column and the offending rows.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from srlm.core.errors import SrlmError

SCHEMA_VERSION = 2

# A DPO/judge score is the paper's additive 0-5 points (means of samples are fractional).
SCORE_MIN, SCORE_MAX = 0.0, 5.0
# The scores a judge can write, 0..5: `score_probs` holds one probability for each.
SCORE_VALUES = int(SCORE_MAX - SCORE_MIN) + 1
SCORE_PROBS_CHECK = f"{SCORE_VALUES} probabilities within 0..1, one per score"
# Why the prompts stage drops a generation: `srlm.loop.selfinstruct.filter_prompt`, over_quota
DROP_REASONS = "empty too_short too_long banned_keyword bad_start incomplete meta_text".split()
DROP_REASONS += ["judge_format", "evaluation_prompt", "near_duplicate", "over_quota"]


class _Strict(pa.DataFrameModel):
    class Config:
        strict = True
        coerce = False


def _score_probs_ok(data) -> pl.LazyFrame:
    """Per row: `score_probs` is null (unparsed) or SCORE_VALUES finite numbers in 0..1.

    A list's length is no dtype: without this check a list of 3 passes validation and
    `expected_score` (which weights the list by 0, 1, 2, ...) silently means something else."""
    probs = pl.col(data.key)
    in_range = probs.list.eval(
        (pl.element().is_finite() & (pl.element() >= 0) & (pl.element() <= 1)).fill_null(False)
    ).list.all()
    ok = (probs.list.len() == SCORE_VALUES) & in_range
    return data.lazyframe.select((probs.is_null() | ok).fill_null(False))


class SeedIFT(_Strict):
    """`seed/ift`: instruction-following examples (first turn, best human reply)."""

    example_id: str = pa.Field(unique=True)
    prompt: str = pa.Field(str_length={"min_value": 1})
    response: str = pa.Field(str_length={"min_value": 1})
    source: str


class SeedEFT(_Strict):
    """`seed/eft`, `seed/eft_eval`: judge examples built from ranked human replies."""

    example_id: str = pa.Field(unique=True)
    group_id: str
    prompt: str = pa.Field(str_length={"min_value": 1})
    response: str = pa.Field(str_length={"min_value": 1})
    human_rank: int = pa.Field(ge=0)
    target_score: int = pa.Field(ge=SCORE_MIN, le=SCORE_MAX)
    judge_input: str = pa.Field(str_length={"min_value": 1})
    judge_target: str = pa.Field(str_length={"min_value": 1})
    source: str


class Prompts(_Strict):
    """`<iter>/prompts`: self-instructed prompts."""

    prompt_id: str = pa.Field(unique=True)
    prompt: str = pa.Field(str_length={"min_value": 1})
    iteration: str
    generator: str
    fewshot_ids: list[str]


class DroppedPrompts(_Strict):
    """`<iter>/prompts_dropped`: the generations `<iter>/prompts` dropped, cleaned (maybe to "")."""

    request_id: str = pa.Field(unique=True)
    text: str
    reason: str = pa.Field(isin=DROP_REASONS)
    fewshot_ids: list[str]
    iteration: str


class Candidates(_Strict):
    """`<iter>/candidates`: N sampled responses per prompt."""

    prompt_id: str
    candidate_id: str = pa.Field(unique=True)
    prompt: str
    response: str
    model: str
    seed: int
    n_tokens: int = pa.Field(ge=0)
    finish_reason: str = pa.Field(isin=["stop", "length"])


class Judgments(_Strict):
    """`<iter>/judgments`: K judge samples per candidate; score null = unparsed.

    `score` is the number the judge wrote; `expected_score` the expectation of its
    probabilities `score_probs` for "0".."5" at that position (see `srlm.loop.judge`).
    """

    prompt_id: str
    candidate_id: str
    sample: int = pa.Field(ge=0)
    judge_text: str
    score: float = pa.Field(ge=SCORE_MIN, le=SCORE_MAX, nullable=True)
    expected_score: float = pa.Field(ge=SCORE_MIN, le=SCORE_MAX, nullable=True)
    score_probs: list[float] = pa.Field(nullable=True)

    @pa.check("score_probs", name=SCORE_PROBS_CHECK)
    def _score_probs(cls, data):
        return _score_probs_ok(data)


class CandidateScores(_Strict):
    """`<iter>/scores`: per candidate, the mean of parsed samples in each scoring mode;
    `mean_score` is the mode `judge.scoring` selects (what pairs are built from)."""

    prompt_id: str
    candidate_id: str = pa.Field(unique=True)
    mean_score: float = pa.Field(ge=SCORE_MIN, le=SCORE_MAX, nullable=True)
    n_parsed: int = pa.Field(ge=0)
    sampled_score: float = pa.Field(ge=SCORE_MIN, le=SCORE_MAX, nullable=True)
    expected_score: float = pa.Field(ge=SCORE_MIN, le=SCORE_MAX, nullable=True)


class Anchors(_Strict):
    """`<iter>/anchors`: M1's judged candidates for the iteration's prompts, the rejected side
    of `pairs.mode: anchored` (empty in the other modes)."""

    prompt_id: str
    candidate_id: str = pa.Field(unique=True)
    response: str
    mean_score: float = pa.Field(ge=SCORE_MIN, le=SCORE_MAX, nullable=True)
    model: str


class Pairs(_Strict):
    """`<iter>/pairs`: DPO preference pairs (chosen = best mean score, rejected = worst)."""

    prompt_id: str = pa.Field(unique=True)
    prompt: str
    chosen: str
    rejected: str
    chosen_score: float = pa.Field(ge=SCORE_MIN, le=SCORE_MAX)
    rejected_score: float = pa.Field(ge=SCORE_MIN, le=SCORE_MAX)
    margin: float = pa.Field(gt=0, le=SCORE_MAX)


class JudgeOutputs(_Strict):
    """`eval/<m>/judge_*`: a model's judgments of EFT-eval examples, one row per sample."""

    example_id: str
    group_id: str
    human_rank: int = pa.Field(ge=0)
    target_score: int = pa.Field(ge=SCORE_MIN, le=SCORE_MAX)
    sample: int = pa.Field(ge=0)
    judge_text: str
    score: float = pa.Field(ge=SCORE_MIN, le=SCORE_MAX, nullable=True)
    expected_score: float = pa.Field(ge=SCORE_MIN, le=SCORE_MAX, nullable=True)
    score_probs: list[float] = pa.Field(nullable=True)

    @pa.check("score_probs", name=SCORE_PROBS_CHECK)
    def _score_probs(cls, data):
        return _score_probs_ok(data)


class EvalPrompts(_Strict):
    """`eval/prompts`: held-out prompts for answers; `reference` = a reference model's output."""

    prompt_id: str = pa.Field(unique=True)
    prompt: str = pa.Field(str_length={"min_value": 1})
    source: str
    reference: str = pa.Field(nullable=True)
    reference_model: str = pa.Field(nullable=True)


class Answers(_Strict):
    """`eval/<m>/answers`: a model's greedy answer to each evaluation prompt."""

    prompt_id: str = pa.Field(unique=True)
    source: str
    response: str
    model: str
    n_tokens: int = pa.Field(ge=0)
    finish_reason: str = pa.Field(isin=["stop", "length"])


class IFEvalResults(_Strict):
    """`eval/<m>/ifeval`: a model's greedy answer to each IFEval prompt and the checker's
    verdict on each of its instructions (`strict`, `loose`: one per `instruction_ids` entry)."""

    key: int = pa.Field(unique=True)
    prompt: str = pa.Field(str_length={"min_value": 1})
    instruction_ids: list[str]
    response: str
    model: str
    n_tokens: int = pa.Field(ge=0)
    finish_reason: str = pa.Field(isin=["stop", "length"])
    strict: list[bool]
    loose: list[bool]


class Verdicts(_Strict):
    """`eval/<m>/reference`, `eval/<iter>/h2h`: the evaluator's verdict per prompt.

    `model_as_a` / `model_as_b`: the evaluator's preference share for the model's answer when
    it was shown first / second (null when the evaluator put no mass on either letter).
    """

    prompt_id: str = pa.Field(unique=True)
    source: str
    model: str
    opponent: str
    model_as_a: float = pa.Field(ge=0.0, le=1.0, nullable=True)
    model_as_b: float = pa.Field(ge=0.0, le=1.0, nullable=True)
    outcome: str = pa.Field(isin=["win", "tie", "loss"])


SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "seed_ift": SeedIFT,
    "seed_eft": SeedEFT,
    "prompts": Prompts,
    "dropped_prompts": DroppedPrompts,
    "candidates": Candidates,
    "judgments": Judgments,
    "candidate_scores": CandidateScores,
    "anchors": Anchors,
    "pairs": Pairs,
    "judge_outputs": JudgeOutputs,
    "eval_prompts": EvalPrompts,
    "answers": Answers,
    "verdicts": Verdicts,
    "ifeval_results": IFEvalResults,
}


def polars_schema(name: str) -> dict[str, pl.DataType]:
    """Column name -> polars dtype of artifact schema `name`, in the model's column order:
    frames are built from this, so an artifact's columns are declared once, above."""
    return {column: spec.dtype.type for column, spec in SCHEMAS[name].to_schema().columns.items()}


def artifact_frame(name: str, rows: list[dict]) -> pl.DataFrame:
    """A frame of schema `name` from row dicts (keys outside the schema are left out)."""
    schema = polars_schema(name)
    return pl.DataFrame([{k: row.get(k) for k in schema} for row in rows], schema=schema)


class ArtifactSchemaError(SrlmError):
    """A frame that does not match its artifact schema; the message names columns and rows."""


def _describe(failures: pl.DataFrame, max_rows: int = 5) -> list[str]:
    parts = []
    for (column, check), group in failures.group_by(["column", "check"], maintain_order=True):
        rows = [i for i in group["index"].to_list() if i is not None]
        if check == "column_in_dataframe":
            parts.append(f"missing column '{group['failure_case'][0]}'")
        elif check == "column_in_schema":
            parts.append(f"unexpected column '{group['failure_case'][0]}'")
        elif str(check).startswith("dtype("):
            parts.append(f"column '{column}' has type {group['failure_case'][0]}, expected {check}")
        elif rows:
            shown = ", ".join(str(r) for r in rows[:max_rows])
            more = f" and {len(rows) - max_rows} more" if len(rows) > max_rows else ""
            values = ", ".join(str(v) for v in group["failure_case"].to_list()[:max_rows])
            parts.append(
                f"column '{column}' fails {check} at rows [{shown}{more}] (values: {values})"
            )
        else:
            parts.append(f"column '{column}' fails {check}")
    return parts


def validate(frame: pl.DataFrame, name: str, where: str = "frame") -> pl.DataFrame:
    """Validate `frame` against schema `name`; raise `ArtifactSchemaError` naming the problems."""
    if name not in SCHEMAS:
        known = ", ".join(sorted(SCHEMAS))
        raise ArtifactSchemaError(f"{where}: unknown schema '{name}' (known: {known})")
    try:
        return SCHEMAS[name].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        problems = "; ".join(_describe(err.failure_cases))
        raise ArtifactSchemaError(f"{where}: schema {name} failed: {problems}") from None
    except pa.errors.SchemaError as err:  # non-lazy paths (e.g. strictness) raise this
        raise ArtifactSchemaError(f"{where}: schema {name} failed: {err}".splitlines()[0]) from None
