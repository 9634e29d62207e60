"""Self-instruct: few-shot prompts that ask the model for a new instruction, and the filters.

Few-shot examples are drawn with a seeded RNG: `n_seed` from the IFT prompts plus up to
`n_generated` from prompts already accepted in this iteration (the paper: 6 + 2). Every
candidate instruction passes through `filter_prompt`, which returns `(keep, reason)`; the
stage counts the reasons and keeps every dropped generation with its reason (the data view
shows them beside the prompts). Near-duplicates are found with ROUGE-L (longest common
subsequence of lower-cased word tokens) against every prompt known so far (`KnownPrompts`:
rapidfuzz's C++ LCS over all of them at once, after a length bound that only skips pairs
which cannot reach the threshold; the rule stays exact).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from importlib import resources

import numpy as np
import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import LCSseq

from srlm.core.ids import content_id, normalize_text
from srlm.core.summaries import mean, rounded

SELF_INSTRUCT_FILE = "self_instruct.txt"
_WORD = re.compile(r"[a-z0-9]+")
# Leading list markers and labels a model tends to add: "3.", "-", "Request:", quotes.
_PREFIX = re.compile(
    r"^\s*(?:\d+[.)]\s*|[-*•]\s*|(?:(?:one|a|my)\s+)?(?:new\s+)?"
    r"(?:request|task|question|prompt)\s*\d*\s*:\s*)",
    re.IGNORECASE,
)
# A small model often continues the numbered list it was shown: "... ? 2. Why ...".
_NEXT_ITEM = re.compile(r"\s+\d+[.)]\s+(?=[A-Z])")
# Talk about the task instead of a task: words of our own instruction leaking back.
_META = re.compile(r"\b(?:request|requests|response|responses|ai assistant)\b", re.IGNORECASE)
# The judge's output format instead of an instruction: a model SFT'd on many score-only EFT
# examples answers every prompt with "Score: N" (the CPU study's M1, 24 IFT + 640 EFT: "Score:
# The 4th value of the atmosphere", "Score: Score: Score: ...").
_JUDGE_FORMAT = re.compile(r"^\W*score\s*:|\bscore\s*:\s*[0-5]\b", re.IGNORECASE)


@cache
def self_instruct_template() -> str:
    """The self-instruct prompt (package data `srlm/prompts/self_instruct.txt`)."""
    text = resources.files("srlm.prompts").joinpath(SELF_INSTRUCT_FILE).read_text("utf-8")
    return text.removesuffix("\n")


def render_fewshot(examples: Sequence[str]) -> str:
    """The self-instruct prompt with numbered examples (newlines inside flattened)."""
    lines = [f"{i}. {' '.join(text.split())}" for i, text in enumerate(examples, start=1)]
    return self_instruct_template().replace("{examples}", "\n".join(lines))


def pick_fewshot(
    seed_ids: Sequence[str],
    generated_ids: Sequence[str],
    n_seed: int,
    n_generated: int,
    rng: random.Random,
) -> list[str]:
    """Ids of the few-shot examples: `n_seed` seed ids and up to `n_generated` generated ones."""
    chosen = rng.sample(seed_ids, min(n_seed, len(seed_ids)))
    chosen += rng.sample(generated_ids, min(n_generated, len(generated_ids)))
    rng.shuffle(chosen)
    return chosen


def clean_instruction(text: str) -> str:
    """The first paragraph of a generation, without list markers, labels or wrapping quotes."""
    first = text.strip().split("\n\n")[0].strip()
    first = _PREFIX.sub("", first, count=1).strip()
    first = _NEXT_ITEM.split(first, maxsplit=1)[0].strip()
    if len(first) >= 2 and first[0] == first[-1] and first[0] in "\"'":
        first = first[1:-1].strip()
    return " ".join(first.split())


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, the unit of ROUGE-L here."""
    return _WORD.findall(text.lower())


def rouge_l(a: Sequence[str], b: Sequence[str]) -> float:
    """ROUGE-L F1 of two token sequences (their longest common subsequence)."""
    if not a or not b:
        return 0.0
    return float(_f1(np.array([LCSseq.similarity(a, b)]), len(a), np.array([len(b)]))[0])


def _f1(lcs: np.ndarray, length: int, lengths: np.ndarray) -> np.ndarray:
    """ROUGE-L F1 from LCS lengths, as 2PR / (P + R) in float64 (0 where the LCS is 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        precision, recall = lcs / length, lcs / lengths
        return np.where(lcs > 0, 2 * precision * recall / (precision + recall), 0.0)


class KnownPrompts:
    """Token lists of every prompt so far, checked for near-duplicates all at once."""

    def __init__(self, token_lists: Iterable[list[str]] = ()):
        self.tokens: list[list[str]] = []
        self.lengths: list[int] = []
        for words in token_lists:
            self.append(words)

    def append(self, words: list[str]) -> None:
        self.tokens.append(words)
        self.lengths.append(len(words))

    def near_duplicate(self, words: list[str], threshold: float) -> bool:
        """Whether ROUGE-L F1 of `words` with some known prompt is >= `threshold`."""
        if not words or not self.tokens:
            return False
        lengths = np.array(self.lengths)
        # F1 <= 2 min(a, b) / (a + b): skip prompts whose length alone keeps them below
        # (the margin keeps every pair that float rounding could lift over the threshold)
        bound = 2 * np.minimum(len(words), lengths) / (len(words) + lengths)
        candidates = np.nonzero((bound >= threshold - 1e-9) & (lengths > 0))[0]
        if candidates.size == 0:
            return False
        lcs = process.cdist(
            [words],
            [self.tokens[i] for i in candidates],
            scorer=LCSseq.similarity,
            dtype=np.int64,
            workers=-1,
        )[0]
        return bool((_f1(lcs, len(words), lengths[candidates]) >= threshold).any())


def filter_prompt(
    text: str, known: KnownPrompts, banned_phrases: Sequence[str], forbidden: set[str], cfg
) -> tuple[bool, str]:
    """(keep, reason) for a cleaned instruction; `cfg` is a `PromptsParams`.

    `known` holds every prompt so far (seed and accepted), `forbidden` the normalised texts of
    evaluation prompts, which must never become training prompts.
    """
    words = tokens(text)
    if not words:
        return False, "empty"
    if len(words) < cfg.min_words:
        return False, "too_short"
    if len(words) > cfg.max_words:
        return False, "too_long"
    lowered = f" {' '.join(words)} "
    if any(f" {phrase} " in lowered for phrase in banned_phrases):
        return False, "banned_keyword"
    if not text[0].isalnum() and text[0] not in "\"'(¿":
        return False, "bad_start"
    if text.endswith(":"):
        return False, "incomplete"
    if _META.search(text):
        return False, "meta_text"
    if _JUDGE_FORMAT.search(text):
        return False, "judge_format"
    if normalize_text(text) in forbidden:
        return False, "evaluation_prompt"
    if known.near_duplicate(words, cfg.max_rouge_l):
        return False, "near_duplicate"
    return True, "kept"


def generate_prompts(
    complete: Callable[[list[tuple[str, str, int]]], list[str]],
    seed_prompts: dict[str, str],
    forbidden: Iterable[str],
    iteration: str,
    cfg,
) -> tuple[list[dict], list[dict], Counter]:
    """Self-instruct until `cfg.n_keep` prompts pass the filters or `cfg.n_generate` were tried.

    `complete` takes `(request_id, prompt_text, seed)` triples and returns one completion per
    triple (the stage wires it to an engine). `seed_prompts` maps IFT example ids to prompts.
    Returns accepted rows (`prompt_id, prompt, fewshot_ids`), dropped rows (`request_id`,
    `text` as cleaned, `reason`, `fewshot_ids`) and the count of each reason, `kept` too.
    Requests go out in rounds of `cfg.round_size`; a round's few-shot picks see the prompts
    accepted before it.
    """
    rng = random.Random(f"{cfg.random_seed}:{iteration}")
    known = KnownPrompts(tokens(p) for p in seed_prompts.values())
    forbidden_set = {normalize_text(p) for p in forbidden}
    banned = [" ".join(tokens(k)) for k in cfg.banned_keywords]
    accepted: list[dict] = []
    dropped: list[dict] = []
    reasons: Counter = Counter()
    tried = 0
    seed_ids = sorted(seed_prompts)
    while tried < cfg.n_generate and len(accepted) < cfg.n_keep:
        # accepted prompts change between rounds only: index them once a round (per request,
        # this was quadratic at the paper's 15,000 kept prompts)
        generated = {row["prompt_id"]: row["prompt"] for row in accepted}
        generated_ids = sorted(generated)
        batch = []
        for _ in range(min(cfg.round_size, cfg.n_generate - tried)):
            ids = pick_fewshot(
                seed_ids, generated_ids, cfg.fewshot_from_seed, cfg.fewshot_generated, rng
            )
            texts = [seed_prompts.get(i) or generated[i] for i in ids]
            batch.append((f"{iteration}-{tried}", render_fewshot(texts), rng.randrange(2**31), ids))
            tried += 1
        outputs = complete([(rid, text, seed) for rid, text, seed, _ in batch])
        for (rid, _, _, ids), output in zip(batch, outputs, strict=True):
            text = clean_instruction(output)
            keep, reason = filter_prompt(text, known, banned, forbidden_set, cfg)
            if keep and len(accepted) >= cfg.n_keep:
                keep, reason = False, "over_quota"
            reasons[reason] += 1
            if keep:
                known.append(tokens(text))
                accepted.append(
                    {
                        "prompt_id": content_id(normalize_text(text)),
                        "prompt": text,
                        "fewshot_ids": ids,
                    }
                )
            else:
                row = {"request_id": rid, "text": text, "reason": reason, "fewshot_ids": ids}
                dropped.append(row)
    return accepted, dropped, reasons


def prompt_metrics(prompts: pl.DataFrame, reasons: Counter) -> dict:
    """The prompts stage's metrics: generations tried, prompts kept, the keep rate, the
    drops by reason and the kept prompts' mean length in words."""
    tried = sum(reasons.values())
    return {
        "generated": tried,
        "kept": prompts.height,
        "keep_rate": round(prompts.height / tried, 4) if tried else None,
        "dropped": {k: v for k, v in sorted(reasons.items()) if k != "kept"},
        "mean_words": rounded(mean(prompts["prompt"].str.split(" ").list.len()), 2)
        if prompts.height
        else None,
    }
