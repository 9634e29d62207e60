"""Held-out evaluation prompts: AlpacaEval (with reference outputs), MT-Bench, prompt lists.

`read_eval_prompts(spec)` reads one file into rows `prompt_id, prompt, source, reference,
reference_model`:
- AlpacaEval outputs (a JSON list of `instruction, output, generator, dataset`): the output is
  the reference answer, `source` is `alpaca_eval/<dataset>`;
- MT-Bench questions (`question_id, category, turns`): the first turn, `mt_bench/<category>`;
- anything `seed_sources.read_prompts` reads (oasst trees or messages, plain records, a JSON
  string per line): root prompts, `prompts/<file name>`, no reference.
`select_eval_prompts` draws a seeded sample per kind, so a limit gives the same prompts on
every machine.
"""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl

from srlm.ids import content_id, normalize_text
from srlm.seed_sources import SeedFormatError, load_records, read_prompts

EVAL_PROMPT_SCHEMA = {"prompt_id": pl.Utf8, "prompt": pl.Utf8, "source": pl.Utf8,
                      "reference": pl.Utf8, "reference_model": pl.Utf8}


def prompt_id(prompt: str) -> str:
    """The id of a prompt: its normalised text's content id (as seed groups use)."""
    return content_id(normalize_text(prompt))


def _row(prompt: str, source: str, reference: str | None = None,
         reference_model: str | None = None) -> dict:
    return {"prompt_id": prompt_id(prompt), "prompt": prompt, "source": source,
            "reference": reference, "reference_model": reference_model}


def _alpaca_eval_row(spec: str, number: int, record: dict) -> dict:
    for key in ("instruction", "output"):
        if not isinstance(record.get(key), str):
            raise SeedFormatError(f"{spec}:{number}: AlpacaEval record without a text '{key}'")
    return _row(record["instruction"], f"alpaca_eval/{record.get('dataset') or 'unknown'}",
                record["output"], str(record.get("generator") or Path(spec).name))


def _mt_bench_row(spec: str, number: int, record: dict) -> dict:
    turns = record.get("turns")
    if not isinstance(turns, list) or not turns or not isinstance(turns[0], str):
        raise SeedFormatError(f"{spec}:{number}: MT-Bench record without a first turn")
    return _row(turns[0], f"mt_bench/{record.get('category') or 'unknown'}")


def read_eval_prompts(spec: str) -> pl.DataFrame:
    """Rows of one evaluation file (see the module docstring), duplicates of a prompt dropped."""
    records = load_records(spec)
    first = records[0][1] if records else None
    if isinstance(first, dict) and "instruction" in first and "generator" in first:
        rows = [_alpaca_eval_row(spec, n, r) for n, r in records]
    elif isinstance(first, dict) and "turns" in first:
        rows = [_mt_bench_row(spec, n, r) for n, r in records]
    else:
        rows = [_row(p, f"prompts/{Path(spec).name}") for p in read_prompts(spec)]
    if not rows:
        raise SeedFormatError(f"{spec}: no prompts found")
    frame = pl.DataFrame(rows, schema=EVAL_PROMPT_SCHEMA)
    return frame.filter(pl.col("prompt").str.strip_chars() != "").unique(
        "prompt_id", keep="first", maintain_order=True)


def select_eval_prompts(frames: list[pl.DataFrame], limits: dict[str, int],
                        alpaca_eval_datasets: tuple[str, ...], seed: int) -> pl.DataFrame:
    """A seeded sample of at most `limits[kind]` prompts per kind, in a stable order.

    AlpacaEval rows are first restricted to `alpaca_eval_datasets` (empty = all). A prompt
    that occurs in several files is kept once (the first file wins).
    """
    frame = pl.concat(frames).unique("prompt_id", keep="first", maintain_order=True)
    if alpaca_eval_datasets:
        wanted = {f"alpaca_eval/{d}" for d in alpaca_eval_datasets}
        frame = frame.filter(~pl.col("source").str.starts_with("alpaca_eval/")
                             | pl.col("source").is_in(list(wanted)))
    picked = []
    for name in ("alpaca_eval", "mt_bench", "prompts"):
        ids = frame.filter(pl.col("source").str.starts_with(f"{name}/"))["prompt_id"].to_list()
        random.Random(f"{seed}:{name}").shuffle(ids)
        picked += ids[: limits.get(name, 0)]
    order = {pid: i for i, pid in enumerate(picked)}
    return (frame.filter(pl.col("prompt_id").is_in(picked))
            .with_columns(_o=pl.col("prompt_id").replace_strict(order, default=None))
            .sort("_o").drop("_o"))
