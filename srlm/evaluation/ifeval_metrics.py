"""IFEval results: the checked answers, the four numbers with intervals, the per-instruction
table, and paired differences between models.

The four numbers are the paper's (Zhou et al. 2023): prompt-level accuracy (the share of
prompts whose every instruction is followed) and instruction-level accuracy (the share of all
instructions followed), each strict and loose. Prompts are what was sampled, so intervals
resample prompts (`srlm.evaluation.intervals`); instruction-level accuracy is then a ratio of
per-prompt sums, as its point estimate is.

Per model, `prompt_table` keeps one row per prompt (passes per level); two models' tables
joined on `key` give the paired difference on the same prompts (`paired_differences`), with
its interval and the smallest difference the sample would detect.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from srlm.core.errors import SrlmError
from srlm.core.schemas import artifact_frame
from srlm.core.summaries import mean, rounded
from srlm.evaluation.intervals import (
    N_BOOT,
    SEED,
    bootstrap_ci,
    difference_summary,
    ratio_statistic,
)

LEVELS = ("strict", "loose")
FIGURES = ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose")


def _round(value: float) -> float:
    return round(float(value), 4)


def prompt_table(results: pl.DataFrame) -> pl.DataFrame:
    """One row per prompt of an `ifeval_results` frame: `key, instructions, strict_passed,
    loose_passed` (instructions followed under each level), sorted by key."""
    return results.select(
        "key",
        instructions=pl.col("instruction_ids").list.len().cast(pl.Int64),
        strict_passed=pl.col("strict").list.sum().cast(pl.Int64),
        loose_passed=pl.col("loose").list.sum().cast(pl.Int64),
    ).sort("key")


def _per_prompt(table: pl.DataFrame, figure: str) -> tuple[np.ndarray, np.ndarray]:
    """(numerator, denominator) per prompt of one figure: prompt-level counts a prompt as 1
    when all its instructions pass; instruction-level counts its passed instructions."""
    level = figure.split("_")[1]
    passed = table[f"{level}_passed"].to_numpy().astype(float)
    instructions = table["instructions"].to_numpy().astype(float)
    if figure.startswith("prompt"):
        return (passed == instructions).astype(float), np.ones(len(table))
    return passed, instructions


def ifeval_metrics(results: pl.DataFrame, n_boot: int = N_BOOT, seed: int = SEED) -> dict:
    """The four accuracies with `_ci95`, `score` (the mean of prompt- and instruction-level
    strict accuracy: the figure model cards report as "IFEval"), counts and answer lengths."""
    table = prompt_table(results)
    n = table.height
    metrics: dict = {"n_prompts": n, "n_instructions": int(table["instructions"].sum())}
    for figure in FIGURES:
        numerator, denominator = _per_prompt(table, figure)
        metrics[figure] = _round(numerator.sum() / denominator.sum()) if n else None
        metrics[f"{figure}_ci95"] = bootstrap_ci(
            n, ratio_statistic(numerator, denominator), n_boot, seed
        )
    if n:
        metrics["score"] = _round((metrics["prompt_strict"] + metrics["instruction_strict"]) / 2)
    metrics["hit_max_new_tokens"] = int((results["finish_reason"] == "length").sum())
    metrics["mean_tokens"] = rounded(mean(results["n_tokens"])) if n else None
    metrics["empty_answers"] = int((results["response"].str.strip_chars() == "").sum())
    return metrics


def instruction_table(results: pl.DataFrame) -> pl.DataFrame:
    """Per instruction id: how often it occurs and the share followed, strict and loose."""
    flat = results.select("instruction_ids", "strict", "loose").explode(
        "instruction_ids", "strict", "loose"
    )
    return (
        flat.group_by(instruction_id="instruction_ids")
        .agg(
            n=pl.len().cast(pl.Int64),
            strict=pl.col("strict").mean().round(4),
            loose=pl.col("loose").mean().round(4),
        )
        .sort("instruction_id")
    )


def paired_differences(
    mine: pl.DataFrame, theirs: pl.DataFrame, n_boot: int = N_BOOT, seed: int = SEED
) -> dict:
    """Each of the four figures of `mine` minus `theirs` (two `prompt_table`s) on the same
    prompts: `<figure>` (the difference), `<figure>_ci95` (the same resampled prompts for
    both) and `<figure>_mde` (`intervals.detectable_difference`), plus how many prompts
    disagree at the prompt level (`discordant_strict`, `discordant_loose`).

    Both tables must hold the same prompts: a paired difference over different prompts would
    mix the models' difference with the prompts' difference.
    """
    if mine["key"].to_list() != theirs["key"].to_list():
        raise SrlmError(
            f"ifeval: the two models answered different prompts ({mine.height} vs "
            f"{theirs.height}; same `ifeval` params and data for both?)"
        )
    n = mine.height
    out: dict = {"n_prompts": n}
    for figure in FIGURES:
        num_a, den = _per_prompt(mine, figure)
        num_b, _ = _per_prompt(theirs, figure)
        gain = num_a - num_b
        statistic = ratio_statistic(gain, den)
        out[figure] = _round(gain.sum() / den.sum()) if n else None
        out |= difference_summary(figure, n, statistic, n_boot, seed)
    for level in LEVELS:
        a, _ = _per_prompt(mine, f"prompt_{level}")
        b, _ = _per_prompt(theirs, f"prompt_{level}")
        out[f"discordant_{level}"] = int((a != b).sum())
    return out


def sample_items(items: list, limit: int, seed: int) -> list:
    """A seeded sample of `limit` IFEval items (all when `limit` is 0 or covers them), in key
    order: every model of a run answers the same prompts, so their differences are paired."""
    ordered = sorted(items, key=lambda item: item.key)
    if limit == 0 or limit >= len(ordered):
        return ordered
    picked = np.random.default_rng(seed).choice(len(ordered), size=limit, replace=False)
    return [ordered[i] for i in sorted(picked)]


def check_answers(items: list, answers: pl.DataFrame, check) -> pl.DataFrame:
    """The `ifeval_results` rows of `items` answered by `answers` (an `answers` frame whose
    `prompt_id` is the item's key as text): `check(item, response) -> (strict, loose)`."""
    by_id = {row["prompt_id"]: row for row in answers.iter_rows(named=True)}
    rows = []
    for item in items:
        answer = by_id[str(item.key)]
        strict, loose = check(item, answer["response"])
        rows.append(
            {
                "key": item.key,
                "prompt": item.prompt,
                "instruction_ids": list(item.instruction_ids),
                "response": answer["response"],
                "model": answer["model"],
                "n_tokens": answer["n_tokens"],
                "finish_reason": answer["finish_reason"],
                "strict": strict,
                "loose": loose,
            }
        )
    return artifact_frame("ifeval_results", rows)
