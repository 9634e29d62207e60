"""What the data view shows of one iteration: each prompt with its candidates, every judge
sample of each candidate, and the pair it gave (or why it gave none).

`iteration_records(prompts, candidates, judgments, scores, pairs)` joins the iteration's five
artifacts by `prompt_id` / `candidate_id` into one record a prompt, in prompt order, each with
the flags the view filters on: `pair` (a DPO pair was kept), `tie` (candidates but no pair),
`unparsed` (a judge sample without a score), `top` (the chosen answer scored 5). `word_diff`
marks what the rejected answer lacks and adds against the chosen one, word by word.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import polars as pl

TOP_SCORE = 5.0
T = TypeVar("T")
_WORDS = re.compile(r"\S+|\s+")


@dataclass
class Sample:
    """One judge sample of a candidate."""

    index: int
    text: str
    score: float | None
    expected: float | None
    probs: list[float] | None


@dataclass
class Candidate:
    """One sampled answer with its judge samples and aggregated scores."""

    candidate_id: str
    response: str
    n_tokens: int
    finish_reason: str
    mean_score: float | None
    sampled_score: float | None
    expected_score: float | None
    samples: list[Sample] = field(default_factory=list)
    role: str = ""  # "chosen", "rejected" or ""


@dataclass
class PromptRecord:
    """A prompt of the iteration, its candidates and its pair (None: no pair kept)."""

    prompt_id: str
    prompt: str
    fewshot_ids: list[str]
    candidates: list[Candidate]
    pair: dict | None
    diff: list[tuple[str, str]] = field(default_factory=list)

    @property
    def flags(self) -> dict[str, bool]:
        return {
            "pair": self.pair is not None,
            "tie": self.pair is None and len(self.candidates) > 1,
            "unparsed": any(s.score is None for c in self.candidates for s in c.samples),
            "top": self.pair is not None and self.pair["chosen_score"] >= TOP_SCORE,
        }


def word_diff(chosen: str, rejected: str) -> list[tuple[str, str]]:
    """(op, text) segments turning `chosen` into `rejected` word by word: op is "same",
    "del" (only in chosen) or "ins" (only in rejected); whitespace is kept as it is."""
    a, b = _WORDS.findall(chosen), _WORDS.findall(rejected)
    segments: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            segments.append(("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            segments.append(("del", "".join(a[i1:i2])))
        if j2 > j1:
            segments.append(("ins", "".join(b[j1:j2])))
    return segments


def samples_by(judgments: pl.DataFrame, key: str) -> dict[str, list[Sample]]:
    """The judge samples of a `judgments` or `judge_outputs` frame by column `key` (the
    candidate or the judged reply), in sample order."""
    by: dict[str, list[Sample]] = {}
    ordered = judgments.sort(key, "sample")
    for row in ordered.iter_rows(named=True):
        by.setdefault(row[key], []).append(
            Sample(
                row["sample"],
                row["judge_text"],
                row["score"],
                row["expected_score"],
                row["score_probs"],
            )
        )
    return by


def iteration_records(
    prompts: pl.DataFrame,
    candidates: pl.DataFrame,
    judgments: pl.DataFrame,
    scores: pl.DataFrame,
    pairs: pl.DataFrame,
) -> list[PromptRecord]:
    """One record a prompt of `prompts` (in its order), joined with the other artifacts."""
    samples = samples_by(judgments, "candidate_id")
    score_of = {row["candidate_id"]: row for row in scores.iter_rows(named=True)}
    pair_of = {row["prompt_id"]: row for row in pairs.iter_rows(named=True)}
    by_prompt: dict[str, list[Candidate]] = {}
    for row in candidates.sort("prompt_id", "candidate_id").iter_rows(named=True):
        score = score_of.get(row["candidate_id"], {})
        by_prompt.setdefault(row["prompt_id"], []).append(
            Candidate(
                row["candidate_id"],
                row["response"],
                row["n_tokens"],
                row["finish_reason"],
                score.get("mean_score"),
                score.get("sampled_score"),
                score.get("expected_score"),
                samples.get(row["candidate_id"], []),
            )
        )
    records = []
    for row in prompts.iter_rows(named=True):
        found = by_prompt.get(row["prompt_id"], [])
        pair = pair_of.get(row["prompt_id"])
        record = PromptRecord(
            row["prompt_id"], row["prompt"], list(row["fewshot_ids"]), found, pair
        )
        if pair is not None:
            _mark(found, pair)
            record.diff = word_diff(pair["chosen"], pair["rejected"])
        records.append(record)
    return records


def _mark(candidates: list[Candidate], pair: dict) -> None:
    """Which candidates the pair took: the first with the chosen text, the first other with
    the rejected one (pairs hold texts; two candidates may say the same)."""
    chosen = next((c for c in candidates if c.response == pair["chosen"]), None)
    if chosen is not None:
        chosen.role = "chosen"
    rejected = next(
        (c for c in candidates if c.response == pair["rejected"] and c is not chosen), None
    )
    if rejected is not None:
        rejected.role = "rejected"


def page_name(page: int, stem: str = "page") -> str:
    """The file name of page `page` (1-based) of a paged list (`page-0001.html`, ...)."""
    return f"{stem}-{page:04d}.html"


def page_context(number: int, chunk: list, size: int, n_pages: int, total: int) -> dict:
    """What a page's template says of where it is: its number, the page count, the total and
    the (1-based) numbers of its first and last record."""
    first = (number - 1) * size + 1
    return {
        "page": number,
        "n_pages": n_pages,
        "total": total,
        "first": first if chunk else 0,
        "last": first + len(chunk) - 1,
    }


def pages(records: Sequence[T], size: int) -> list[list[T]]:
    """`records` in pages of at most `size` (at least one page, maybe empty)."""
    if size < 1:
        raise ValueError(f"page size must be >= 1, got {size}")
    return [list(records[i : i + size]) for i in range(0, len(records), size)] or [[]]
