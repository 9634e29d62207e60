"""Held-out evaluation prompts, some with a reference answer to compare against.

Every reader returns rows `prompt_id, prompt, source, reference, reference_model`:
- `read_human_references(spec)`: ranked human data (the oasst1 validation split by default):
  each root prompt with its best (rank 0) human reply as the reference, `source` `human/<file>`,
  `reference_model` `human-rank0`. Apache-2.0, ships with the repository: the default set;
- `read_eval_prompts(spec)`: AlpacaEval outputs (a JSON list of `instruction, output,
  generator, dataset`; the output is the reference, `source` `alpaca_eval/<dataset>`; CC BY-NC,
  never shipped, optional by params); MT-Bench questions (`question_id, category, turns`: the
  first turn, `mt_bench/<category>`, with the GPT-4 reference answer where `mt_bench_references`
  has one); or anything `sources.readers.read_prompts` reads (root prompts, `prompts/<file>`).
`select_eval_prompts` draws a seeded sample per kind (`reference`: human or AlpacaEval rows;
`mt_bench`; `prompts`), so a limit gives the same prompts on every machine.
"""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl

from srlm.core.ids import content_id, normalize_text
from srlm.core.text import is_blank
from srlm.sources.readers import read_prompts, read_replies
from srlm.sources.records import SeedFormatError, load_records

EVAL_PROMPT_SCHEMA = {
    "prompt_id": pl.Utf8,
    "prompt": pl.Utf8,
    "source": pl.Utf8,
    "reference": pl.Utf8,
    "reference_model": pl.Utf8,
}


def prompt_id(prompt: str) -> str:
    """The id of a prompt: its normalised text's content id (as seed groups use)."""
    return content_id(normalize_text(prompt))


def _row(
    prompt: str, source: str, reference: str | None = None, reference_model: str | None = None
) -> dict:
    return {
        "prompt_id": prompt_id(prompt),
        "prompt": prompt,
        "source": source,
        "reference": reference,
        "reference_model": reference_model,
    }


def _alpaca_eval_row(spec: str, number: int, record: dict) -> dict:
    for key in ("instruction", "output"):
        if not isinstance(record.get(key), str):
            raise SeedFormatError(f"{spec}:{number}: AlpacaEval record without a text '{key}'")
    return _row(
        record["instruction"],
        f"alpaca_eval/{record.get('dataset') or 'unknown'}",
        record["output"],
        str(record.get("generator") or Path(spec).name),
    )


def _first_turn(spec: str, number: int, record: dict, key: str = "turns") -> str:
    turns = record.get(key)
    if not isinstance(turns, list) or not turns or not isinstance(turns[0], str):
        raise SeedFormatError(f"{spec}:{number}: MT-Bench record without a first turn")
    return turns[0]


def read_mt_bench_references(spec: str) -> dict[int, tuple[str, str]]:
    """question_id -> (first-turn reference answer, its model) from MT-Bench's
    `reference_answer/<model>.jsonl` (`question_id, model_id, choices: [{turns: [...]}]`)."""
    references = {}
    for number, record in load_records(spec):
        choices = record.get("choices") if isinstance(record, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise SeedFormatError(f"{spec}:{number}: MT-Bench reference without 'choices'")
        references[record.get("question_id")] = (
            _first_turn(spec, number, choices[0]),
            f"mt_bench:{record.get('model_id') or 'unknown'}",
        )
    return references


def read_human_references(spec: str) -> pl.DataFrame:
    """Each root prompt of ranked human data with its best (rank 0) reply as the reference."""
    replies, _ = read_replies(spec)
    best = replies.filter(pl.col("rank") == 0).unique("group_id", keep="first", maintain_order=True)
    if best.is_empty():
        raise SeedFormatError(f"{spec}: no prompt has a rank-0 reply to use as reference")
    rows = [
        _row(prompt, f"human/{Path(spec).name}", response, "human-rank0")
        for prompt, response in best.select("prompt", "response").iter_rows()
    ]
    return pl.DataFrame(rows, schema=EVAL_PROMPT_SCHEMA).unique(
        "prompt_id", keep="first", maintain_order=True
    )


def read_eval_prompts(spec: str, mt_bench_references: str | None = None) -> pl.DataFrame:
    """Rows of one evaluation file (see the module docstring), duplicates of a prompt dropped."""
    records = load_records(spec)
    first = records[0][1] if records else None
    if isinstance(first, dict) and "instruction" in first and "generator" in first:
        rows = [_alpaca_eval_row(spec, n, r) for n, r in records]
    elif isinstance(first, dict) and "turns" in first:
        refs = read_mt_bench_references(mt_bench_references) if mt_bench_references else {}
        rows = [
            _row(
                _first_turn(spec, n, r),
                f"mt_bench/{r.get('category') or 'unknown'}",
                *refs.get(r.get("question_id"), (None, None)),
            )
            for n, r in records
        ]
    else:
        rows = [_row(p, f"prompts/{Path(spec).name}") for p in read_prompts(spec)]
    if not rows:
        raise SeedFormatError(f"{spec}: no prompts found")
    # the seed's rule for empty text: zero-width characters alone are no prompt
    frame = pl.DataFrame([r for r in rows if not is_blank(r["prompt"])], schema=EVAL_PROMPT_SCHEMA)
    return frame.unique("prompt_id", keep="first", maintain_order=True)


def select_eval_prompts(
    frames: list[pl.DataFrame],
    limits: dict[str, int],
    alpaca_eval_datasets: tuple[str, ...],
    seed: int,
) -> pl.DataFrame:
    """A seeded sample of at most `limits[kind]` prompts per kind, in a stable order.

    Kinds: `reference` (human-reference rows, or AlpacaEval rows when any are given: then they
    replace the human ones, restricted to `alpaca_eval_datasets`, empty = all), `mt_bench`,
    `prompts`. A prompt that occurs in several files is kept once (the first file wins).
    """
    frame = pl.concat(frames)
    alpaca = pl.col("source").str.starts_with("alpaca_eval/")
    if frame.filter(alpaca).height:
        frame = frame.filter(~pl.col("source").str.starts_with("human/"))
        if alpaca_eval_datasets:
            wanted = [f"alpaca_eval/{d}" for d in alpaca_eval_datasets]
            frame = frame.filter(~alpaca | pl.col("source").is_in(wanted))
    frame = frame.unique("prompt_id", keep="first", maintain_order=True)
    prefixes = {
        "reference": ("human/", "alpaca_eval/"),
        "mt_bench": ("mt_bench/",),
        "prompts": ("prompts/",),
    }
    picked = []
    for name, starts in prefixes.items():
        kind = pl.any_horizontal(pl.col("source").str.starts_with(s) for s in starts)
        ids = frame.filter(kind)["prompt_id"].to_list()
        random.Random(f"{seed}:{name}").shuffle(ids)
        picked += ids[: limits.get(name, 0)]
    order = {pid: i for i, pid in enumerate(picked)}
    return (
        frame.filter(pl.col("prompt_id").is_in(picked))
        .with_columns(_o=pl.col("prompt_id").replace_strict(order, default=None))
        .sort("_o")
        .drop("_o")
    )


def eval_prompt_metrics(prompts: pl.DataFrame, read: list[tuple[str, pl.DataFrame]]) -> dict:
    """The eval_prompts stage's metrics: prompts selected, how many carry a reference and
    from which set, prompts per source, and the rows each file gave (`read`: file, frame)."""
    references = prompts.filter(prompts["reference"].is_not_null())["reference_model"]
    return {
        "prompts": prompts.height,
        "with_reference": references.len(),
        "reference_sets": dict(sorted(references.value_counts().iter_rows())),
        "by_source": dict(sorted(prompts["source"].value_counts().iter_rows())),
        "read": {spec: frame.height for spec, frame in read},
    }
