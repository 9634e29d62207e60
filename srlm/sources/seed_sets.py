"""Seed datasets: IFT (instruction following) and EFT (judge training / held-out eval).

Pure functions on the reply frames of `srlm.sources.readers`:
- `build_ift`: one example per prompt, its best human reply (rank 0, else highest quality);
- `build_eft`: every ranked reply of prompts with >=2 ranked replies becomes a judge example:
  input = the paper's judge prompt filled with (prompt, reply); target = a short justification
  + `Score: N`, N from the human labels (`srlm.sources.eft_targets`);
- `decontaminate`: drop prompts that occur in an evaluation set (whitespace/case-normalised).
Sampling is by whole prompt groups with a seeded shuffle, so sizes are reproducible and a
group's replies stay together (the judge metrics compare replies within a group).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from typing import cast

import polars as pl

from srlm.core.errors import SrlmError
from srlm.core.ids import content_id, normalize_text
from srlm.loop.judge_prompt import render_judge_prompt, score_histogram
from srlm.sources.eft_targets import judge_target, target_scores


def filter_lengths(
    replies: pl.DataFrame, min_prompt: int, max_prompt: int, max_response: int
) -> tuple[pl.DataFrame, Counter]:
    """Drop replies whose prompt or response is outside the configured character limits."""
    prompt_len = pl.col("prompt").str.len_chars()
    reasons = (
        pl.when(prompt_len < min_prompt)
        .then(pl.lit("prompt_too_short"))
        .when(prompt_len > max_prompt)
        .then(pl.lit("prompt_too_long"))
        .when(pl.col("response").str.len_chars() > max_response)
        .then(pl.lit("response_too_long"))
    )
    tagged = replies.with_columns(_reason=reasons)
    dropped = tagged.filter(pl.col("_reason").is_not_null())["_reason"]
    drops = Counter(dict(dropped.value_counts().iter_rows()))
    return tagged.filter(pl.col("_reason").is_null()).drop("_reason"), drops


def dedupe_groups(replies: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Keep each prompt's replies from the first source that has it; count later duplicates."""
    first = replies.group_by("group_id", maintain_order=True).agg(_first=pl.col("source").first())
    tagged = replies.join(first, on="group_id", how="left", maintain_order="left")
    kept = tagged.filter(pl.col("source") == pl.col("_first")).drop("_first")
    duplicate = tagged.filter(pl.col("source") != pl.col("_first"))["group_id"].n_unique()
    kept = kept.unique(subset=["group_id", "response"], keep="first", maintain_order=True)
    return kept, duplicate


def decontaminate(replies: pl.DataFrame, eval_prompts: Iterable[str]) -> tuple[pl.DataFrame, int]:
    """Drop every reply whose prompt occurs in an evaluation set; return rows and groups dropped."""
    banned = {content_id(normalize_text(p)) for p in eval_prompts}
    hit = pl.col("group_id").is_in(list(banned))
    return replies.filter(~hit), replies.filter(hit)["group_id"].n_unique()


def sample_groups(frame: pl.DataFrame, max_rows: int, seed: int) -> pl.DataFrame:
    """Whole groups in a seeded random order while the row total stays within `max_rows`."""
    sizes = dict(frame.group_by("group_id").len().iter_rows())
    order = sorted(sizes)
    random.Random(seed).shuffle(order)
    chosen, total = [], 0
    for group in order:
        if total + sizes[group] > max_rows:
            continue
        chosen.append(group)
        total += sizes[group]
    rank = {g: i for i, g in enumerate(chosen)}
    picked = frame.filter(pl.col("group_id").is_in(chosen))
    return (
        picked.with_columns(_o=pl.col("group_id").replace_strict(rank, default=None))
        .sort("_o", "human_rank" if "human_rank" in frame.columns else "group_id")
        .drop("_o")
    )


def build_ift(replies: pl.DataFrame, size: int, seed: int) -> pl.DataFrame:
    """One (prompt, best human reply) example per group, `size` groups at most."""
    best = (
        replies.sort(
            "group_id",
            pl.col("rank").fill_null(1 << 30),
            pl.col("quality").fill_null(-1.0),
            descending=[False, False, True],
        )
        .group_by("group_id", maintain_order=True)
        .first()
    )
    sampled = sample_groups(best, size, seed)
    ids = [content_id(p, r) for p, r in zip(sampled["prompt"], sampled["response"], strict=True)]
    return sampled.select(
        example_id=pl.Series(ids, dtype=pl.Utf8),
        prompt="prompt",
        response="response",
        source="source",
    )


def ranked_groups(replies: pl.DataFrame) -> pl.DataFrame:
    """Replies of groups with >=2 distinct human ranks, ranks renumbered 0..k-1 densely."""
    ranked = replies.filter(pl.col("rank").is_not_null())
    distinct = pl.col("rank").n_unique().over("group_id")
    ranked = ranked.filter(distinct >= 2)
    return ranked.with_columns(
        rank=(pl.col("rank").rank(method="dense").over("group_id") - 1).cast(pl.Int64)
    )


def build_eft(
    replies: pl.DataFrame,
    size: int,
    seed: int,
    min_target_spread: int = 0,
    target_style: str = "justified",
) -> pl.DataFrame:
    """Judge examples from ranked groups (module docstring), at most `size` rows.

    `min_target_spread` keeps only groups whose best and worst targets differ by at least
    that many points: contrasting replies to one prompt are what teaches a small judge to
    tell answers apart (groups of near-equal replies teach it to give everything the same
    score). The held-out EFT-eval set is built with 0, so evaluation sees every group.
    """
    ranked = ranked_groups(replies)
    ranked = ranked.with_columns(target_score=target_scores(ranked)).rename({"rank": "human_rank"})
    if min_target_spread > 0:
        spread = pl.col("target_score").max().over("group_id") - pl.col("target_score").min().over(
            "group_id"
        )
        ranked = ranked.filter(spread >= min_target_spread)
    # The same text twice in one group (oasst1 validation has one, ranked 0 and 2) cannot be
    # ranked two ways and would share an example id: its best-ranked copy is kept.
    sampled = sample_groups(ranked, size, seed).unique(
        subset=["group_id", "response"], keep="first", maintain_order=True
    )
    rows = [
        {
            "example_id": content_id(r["prompt"], r["response"]),
            "group_id": r["group_id"],
            "prompt": r["prompt"],
            "response": r["response"],
            "human_rank": r["human_rank"],
            "target_score": r["target_score"],
            "judge_input": render_judge_prompt(r["prompt"], r["response"]),
            "judge_target": judge_target(r["target_score"], target_style),
            "source": r["source"],
        }
        for r in sampled.iter_rows(named=True)
    ]
    schema = {
        "example_id": pl.Utf8,
        "group_id": pl.Utf8,
        "prompt": pl.Utf8,
        "response": pl.Utf8,
        "human_rank": pl.Int64,
        "target_score": pl.Int64,
        "judge_input": pl.Utf8,
        "judge_target": pl.Utf8,
        "source": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema)


class EmptySeedSetError(SrlmError):
    """A seed set came out empty: the message names the set, its input files and why."""


def _why_no_eft(replies: pl.DataFrame, size: int, min_spread: int) -> str:
    ranked = ranked_groups(replies)
    if ranked.is_empty():
        return "no prompt has 2+ usable replies with different ranks, quality labels or scores"
    targets = (
        ranked.with_columns(target=target_scores(ranked))
        .group_by("group_id")
        .agg(spread=pl.col("target").max() - pl.col("target").min())
    )
    if min_spread > 0 and targets.filter(pl.col("spread") >= min_spread).is_empty():
        return f"no prompt's targets are seed.eft_min_target_spread={min_spread} apart"
    # (polars types a Series' min as any literal; a count column's is an int)
    smallest = cast(int, ranked.group_by("group_id").len()["len"].min())
    return f"every ranked prompt has more replies ({smallest}+) than the size {size} allows"


def _dropped(*counters: Counter | dict) -> str:
    total: Counter = Counter()
    for counter in counters:
        total.update(counter)
    return ", ".join(f"{k} {v}" for k, v in sorted(total.items()) if v) or "nothing"


def build_seed_sets(
    train: pl.DataFrame,
    held_out: pl.DataFrame,
    eval_prompts: Iterable[str],
    cfg,
    *,
    files: tuple[str, str] = ("the training sources", "the held-out sources"),
    read_drops: tuple[Counter, Counter] = (Counter(), Counter()),
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict]:
    """IFT, EFT and EFT-eval from reply frames (`cfg` is a `SeedParams`), plus statistics.

    Training replies are decontaminated against the held-out prompts and `eval_prompts`
    before anything is sampled from them. A set that comes out empty although its size is
    above 0 is an `EmptySeedSetError` naming the set, the input `files` (training, held-out)
    and what was dropped on the way (`read_drops`: the readers' counts).
    """
    stats: dict = {"replies_read": train.height, "eval_replies_read": held_out.height}
    # Every held-out prompt is banned from training, including ones the filters below drop.
    banned = list(eval_prompts) + held_out["prompt"].to_list()
    train, stats["decontaminated_prompts"] = decontaminate(train, banned)
    train, stats["duplicate_prompts"] = dedupe_groups(train)
    train, length_drops = filter_lengths(
        train, cfg.min_prompt_chars, cfg.max_prompt_chars, cfg.max_response_chars
    )
    held_out, eval_length_drops = filter_lengths(
        held_out, cfg.min_prompt_chars, cfg.max_prompt_chars, cfg.eval_max_response_chars
    )
    if train.is_empty() and max(cfg.ift_size, cfg.eft_size) > 0:
        dropped = _dropped(
            read_drops[0], length_drops, {"decontaminated_prompts": stats["decontaminated_prompts"]}
        )
        raise EmptySeedSetError(
            f"seed: no usable training replies in {files[0]} (dropped: {dropped})"
        )
    if held_out.is_empty() and cfg.eft_eval_size > 0:
        dropped = _dropped(read_drops[1], eval_length_drops)
        raise EmptySeedSetError(
            f"seed: no usable held-out replies in {files[1]} (dropped: {dropped})"
        )
    ift = build_ift(train, cfg.ift_size, cfg.random_seed)
    eft = build_eft(train, cfg.eft_size, cfg.random_seed, cfg.eft_min_target_spread, cfg.eft_target)
    eft_eval = build_eft(held_out, cfg.eft_eval_size, cfg.random_seed, target_style=cfg.eft_target)
    for name, frame, size, replies, spread, where in (
        ("EFT", eft, cfg.eft_size, train, cfg.eft_min_target_spread, files[0]),
        ("EFT-eval", eft_eval, cfg.eft_eval_size, held_out, 0, files[1]),
    ):
        if frame.is_empty() and size > 0:
            raise EmptySeedSetError(
                f"seed: {name} is empty: {_why_no_eft(replies, size, spread)} (in {where})"
            )
    stats.update(
        dropped_by_length=dict(length_drops),
        eval_dropped_by_length=dict(eval_length_drops),
        ift=ift.height,
        **eft_figures(eft, "eft"),
        **eft_figures(eft_eval, "eft_eval"),
    )
    return ift, eft, eft_eval, stats


def eft_figures(eft: pl.DataFrame, name: str) -> dict:
    """An EFT set's figures in the seed metrics: `<name>` (examples), `<name>_groups` and
    `<name>_target_histogram`."""
    return {
        name: eft.height,
        f"{name}_groups": eft["group_id"].n_unique(),
        f"{name}_target_histogram": score_histogram(eft["target_score"]),
    }
