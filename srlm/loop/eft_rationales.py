"""EFT with model rationales (`seed.eft_mode: model_rationales`, the paper's recipe): a teacher
writes the judge's justification and score for every EFT reply with the paper's judge prompt;
a group of replies to one prompt is kept only where the teacher's scores order them as the
human ranks do, and its rationales become the judge's training targets.

The rule, per group: every reply needs a whole-point score (a judgment cut before its
`Score:`, or with none, is `unparsed`; `3.5` is `not_whole`); for every two replies with
different human ranks the better-ranked one must score strictly higher (any reversal is
`misordered`, otherwise an equal score is `tie`); a group with fewer than two human ranks
left has nothing to agree with (`single_rank`). Everything dropped is counted by reason.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import combinations

import polars as pl

from srlm.core.summaries import rounded
from srlm.loop.judge_prompt import parse_score, score_prefix
from srlm.runtime.requests import Completion, GenerationRequest, user_request
from srlm.runtime.shards import request_seed

_NUMBER_AND_EMPHASIS = re.compile(r"[0-9]+(?:\.[0-9]+)?[*_]*")
DROP_REASONS = ("unparsed", "not_whole", "misordered", "tie", "single_rank")


def teacher_requests(eft: pl.DataFrame, cfg) -> list[GenerationRequest]:
    """One request per EFT row: its judge prompt (`judge_input`, the paper's, verbatim), one
    sample with the teacher's sampling params (a `TeacherParams`), seeded by the example."""
    return [
        user_request(
            example_id,
            judge_input,
            n=1,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            max_new_tokens=cfg.max_new_tokens,
            seed=request_seed(cfg.random_seed, "teacher", example_id),
        )
        for example_id, judge_input in eft.select("example_id", "judge_input").iter_rows()
    ]


def rationale(text: str) -> tuple[str, int] | str:
    """The teacher's judgment as a training target, with its score: its own text up to the
    end of its final score's number and any closing emphasis (`... Score: **4**`; a `/5` or
    words after it are cut, so the judge learns to stop at its score); or the drop reason."""
    score, prefix = parse_score(text), score_prefix(text)
    if score is None or prefix is None:
        return "unparsed"
    if score != int(score):
        return "not_whole"
    number = _NUMBER_AND_EMPHASIS.match(text, len(prefix))
    end = number.end() if number else len(prefix)
    return text[:end].strip(), int(score)


def group_verdict(ranks: list[int], scores: list[int]) -> str | None:
    """Why a group's teacher scores disagree with its human ranks (0 = best), or None when
    every better-ranked reply scores strictly higher."""
    if len(set(ranks)) < 2:
        return "single_rank"
    verdict = None
    for (rank_a, score_a), (rank_b, score_b) in combinations(zip(ranks, scores, strict=True), 2):
        if rank_a == rank_b:
            continue
        better, worse = (score_a, score_b) if rank_a < rank_b else (score_b, score_a)
        if better < worse:
            return "misordered"
        if better == worse:
            verdict = "tie"
    return verdict


def pairwise_agreement(ranks: list[int], scores: list[int | None]) -> tuple[int, int]:
    """(pairs the teacher orders as the humans do, pairs with different ranks and both scores):
    the teacher's own accuracy, whatever the keep rule then does with its groups."""
    agree = total = 0
    for (rank_a, score_a), (rank_b, score_b) in combinations(zip(ranks, scores, strict=True), 2):
        if rank_a == rank_b or score_a is None or score_b is None:
            continue
        total += 1
        better, worse = (score_a, score_b) if rank_a < rank_b else (score_b, score_a)
        agree += better > worse
    return agree, total


def keep_agreeing(eft: pl.DataFrame, completions: list[Completion]) -> tuple[pl.DataFrame, dict]:
    """The EFT rows of the groups the teacher agrees with, their targets replaced by the
    teacher's rationales and scores, and the counts (groups and replies in and kept, drops by
    reason, the teacher's pairwise agreement, kept scores, finish reasons, tokens)."""
    by_id = {c.request_id: c for c in completions}
    missing = set(eft["example_id"]) - set(by_id)
    if missing:
        raise ValueError(f"the teacher returned no judgment for {len(missing)} EFT examples")
    judged = {eid: rationale(by_id[eid].text) for eid in eft["example_id"]}
    drops: Counter = Counter()
    agree = pairs = 0
    kept_ids: list[str] = []
    for (_,), group in eft.group_by(["group_id"], maintain_order=True):
        ids, ranks = list(group["example_id"]), list(group["human_rank"])
        results = [judged[eid] for eid in ids]
        scores = [r[1] if isinstance(r, tuple) else None for r in results]
        a, n = pairwise_agreement(ranks, scores)
        agree, pairs = agree + a, pairs + n
        failed = [r for r in results if isinstance(r, str)]
        reason = failed[0] if failed else group_verdict(ranks, [s or 0 for s in scores])
        if reason is None:
            kept_ids += ids
        else:
            drops[reason] += 1
    kept = eft.filter(pl.col("example_id").is_in(kept_ids))
    targets = {eid: judged[eid] for eid in kept_ids}
    kept = kept.with_columns(
        judge_target=pl.col("example_id").replace_strict({k: v[0] for k, v in targets.items()}),
        target_score=pl.col("example_id")
        .replace_strict({k: v[1] for k, v in targets.items()})
        .cast(pl.Int64),
    )
    stats = {
        "groups": eft["group_id"].n_unique(),
        "replies": eft.height,
        "kept_groups": kept["group_id"].n_unique(),
        "kept_replies": kept.height,
        "dropped_groups": {reason: drops.get(reason, 0) for reason in DROP_REASONS},
        "unparsed_replies": sum(isinstance(r, str) for r in judged.values()),
        "pairwise_agreement": rounded(agree / pairs) if pairs else None,
        "ordered_pairs": pairs,
        "kept_scores": {str(s): int((kept["target_score"] == s).sum()) for s in range(6)},
        "finish_reasons": dict(Counter(c.finish_reason for c in completions)),
        "generated_tokens": sum(c.n_tokens for c in completions),
    }
    return kept, stats


def teach_eft(generator, eft: pl.DataFrame, cfg) -> tuple[pl.DataFrame, dict]:
    """Ask `generator` (the teacher) for every EFT row's judgment and keep the groups it
    agrees with (`keep_agreeing`). An endpoint lists no tokens without logprobs, which the
    teacher does not ask for: there `generated_tokens` is the server's own count."""
    kept, stats = keep_agreeing(eft, generator.generate(teacher_requests(eft, cfg)))
    if hasattr(generator, "usage"):
        stats["generated_tokens"] = generator.usage()["completion_tokens"]
    return kept, stats
