"""Read human seed data into one frame of first-turn replies.

Accepted inputs (detected from the first record):
- oasst nested trees jsonl (`prompt` -> `replies`, as exported by Open Assistant);
- oasst flat messages, the Hugging Face `OpenAssistant/oasst1` format (`message_id`,
  `parent_id`, ...), from a local .jsonl/.parquet or `hf://OWNER/NAME[:split]` when online;
- plain records `{prompt, response[, rank | score]}` (aliases: `prompt_text`/`instruction`,
  `response_text`/`output`, `quality_score`/`quality`) in .jsonl or .parquet.

`read_replies(path)` returns `(frame, drops)`: columns `group_id, prompt, response, rank,
quality, source`, one row per usable first-turn reply, and counts of what was dropped by
reason (non-English, empty, deleted, failed review, synthetic, no replies). Structural errors
(malformed JSON, unknown format, missing file) raise `SeedFormatError` naming file and line.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import polars as pl

from srlm.core.ids import content_id, normalize_text
from srlm.core.text import is_blank
from srlm.sources.records import SeedFormatError, load_records

REPLY_COLUMNS = {
    "group_id": pl.Utf8,
    "prompt": pl.Utf8,
    "response": pl.Utf8,
    "rank": pl.Int64,
    "quality": pl.Float64,
    "source": pl.Utf8,
}
_PROMPT_KEYS = ("prompt", "prompt_text", "instruction")
_RESPONSE_KEYS = ("response", "response_text", "output")
_SCORE_KEYS = ("score", "quality_score", "quality")
# The rank column is Int64: polars turns a larger number into null without a word (10**400
# would then surface as "EFT is empty"), so a rank beyond it is refused by name.
MAX_RANK = 2**63 - 1


def detect_format(record: Any) -> str:
    """`trees`, `messages`, `plain` or `prompts` (a bare JSON string per line)."""
    if isinstance(record, str):
        return "prompts"
    if not isinstance(record, dict):
        return "unknown"
    if isinstance(record.get("prompt"), dict) and "replies" in record["prompt"]:
        return "trees"
    if {"message_id", "parent_id", "role", "text"} <= record.keys():
        return "messages"
    if any(k in record for k in _PROMPT_KEYS) and any(k in record for k in _RESPONSE_KEYS):
        return "plain"
    if any(k in record for k in _PROMPT_KEYS) or "turns" in record:
        return "prompts"
    return "unknown"


def _number(value: Any, where: str, what: str) -> float:
    """`value` as a finite float; a string, bool, NaN, infinity or an integer too large for a
    float (JSON allows 10**400) is malformed input."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SeedFormatError(f"{where}: {what} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond 1.8e308: name it by its size, not its 400 digits
        raise SeedFormatError(
            f"{where}: {what} must be a finite number, got an integer of "
            f"{int(value).bit_length()} bits"
        ) from None
    if not math.isfinite(number):
        raise SeedFormatError(f"{where}: {what} must be a finite number, got {value!r}")
    return number


def _rank(value: Any, where: str) -> int | None:
    """A reply's rank as an int within 0..MAX_RANK (None when absent)."""
    if value is None:
        return None
    number = _number(value, where, "rank")
    exact = value if isinstance(value, int) else number  # 2**63 - 1 is no float
    if not 0 <= exact <= MAX_RANK:
        shown = f"{number:g}" if abs(exact) > 10**20 else repr(value)
        raise SeedFormatError(f"{where}: rank must be within 0..{MAX_RANK} (an Int64), got {shown}")
    return int(value)


def _quality(labels: Any, where: str) -> float | None:
    """The human 'quality' label from oasst tree labels or HF flat-format labels."""
    if not labels:
        return None
    if isinstance(labels, dict) and "name" in labels and "value" in labels:  # HF flat format
        for name, value in zip(labels["name"] or [], labels["value"] or [], strict=False):
            if name == "quality":
                return _number(value, where, "the 'quality' label")
        return None
    quality = labels.get("quality") if isinstance(labels, dict) else None
    if isinstance(quality, dict):
        if "value" not in quality:
            raise SeedFormatError(f"{where}: the 'quality' label has no 'value'")
        quality = quality["value"]
    return None if quality is None else _number(quality, where, "the 'quality' label")


def message_problem(message: dict) -> str | None:
    """Why an oasst message is unusable (counted drop reason), or None when it is fine."""
    text = message.get("text")
    if not isinstance(text, str) or is_blank(text):  # zero-width characters only: empty too
        return "empty"
    if message.get("lang", "en") != "en":
        return "non_english"
    if message.get("deleted"):
        return "deleted"
    if message.get("review_result") is False:
        return "review_failed"
    if message.get("synthetic"):
        return "synthetic"
    return None


def _reply_row(group: str, prompt: str, reply: dict, where: str, source: str) -> dict:
    where = f"{where}: reply {reply.get('message_id')}"
    rank = _rank(reply.get("rank"), where)
    return {
        "group_id": group,
        "prompt": prompt.strip(),
        "response": reply["text"].strip(),
        "rank": rank,
        "quality": _quality(reply.get("labels"), where),
        "source": source,
    }


def _from_thread(
    prompt: dict, replies: list[tuple[str, Any]], source: str, drops: Counter
) -> list[dict]:
    """Rows of a prompt's usable replies; `replies` are (file:line, reply) pairs."""
    problem = message_problem(prompt)
    if problem:
        drops[f"prompt_{problem}"] += 1
        return []
    usable = []
    for where, reply in replies:
        if not isinstance(reply, dict):
            raise SeedFormatError(
                f"{where}: message {prompt.get('message_id')}: a reply is "
                f"not an object ({type(reply).__name__})"
            )
        if reply.get("role", "assistant") != "assistant":
            continue
        problem = message_problem(reply)
        if problem:
            drops[f"reply_{problem}"] += 1
        else:
            usable.append((where, reply))
    if not usable:
        drops["prompt_no_replies"] += 1
        return []
    group = content_id(normalize_text(prompt["text"]))
    return [_reply_row(group, prompt["text"], r, where, source) for where, r in usable]


def _trees(records: list[tuple[int, Any]], source: str, drops: Counter) -> list[dict]:
    rows = []
    for number, tree in records:
        prompt = tree.get("prompt") if isinstance(tree, dict) else None
        if not isinstance(prompt, dict):
            raise SeedFormatError(f"{source}:{number}: tree without a 'prompt' object")
        replies = prompt.get("replies") or []
        if not isinstance(replies, list):
            raise SeedFormatError(f"{source}:{number}: 'replies' must be a list")
        rows += _from_thread(prompt, [(f"{source}:{number}", r) for r in replies], source, drops)
    return rows


def _messages(records: list[tuple[int, Any]], source: str, drops: Counter) -> list[dict]:
    roots: dict[str, dict] = {}
    children: dict[str, list[tuple[str, dict]]] = {}  # parent id -> (where, message)
    for number, message in records:
        if not isinstance(message, dict) or "message_id" not in message:
            raise SeedFormatError(f"{source}:{number}: message without 'message_id'")
        if message.get("parent_id") is None:
            roots[message["message_id"]] = message
        else:
            children.setdefault(message["parent_id"], []).append((f"{source}:{number}", message))
    rows = []
    for root_id, root in roots.items():
        rows += _from_thread(root, children.get(root_id, []), source, drops)
    return rows


def _first(record: dict, keys: tuple[str, ...]) -> Any:
    return next((record[k] for k in keys if k in record), None)


def _plain(records: list[tuple[int, Any]], source: str, drops: Counter) -> list[dict]:
    rows = []
    for number, record in records:
        if not isinstance(record, dict):
            raise SeedFormatError(
                f"{source}:{number}: expected a JSON object, got {type(record).__name__}"
            )
        prompt, response = _first(record, _PROMPT_KEYS), _first(record, _RESPONSE_KEYS)
        if not isinstance(prompt, str) or not isinstance(response, str):
            raise SeedFormatError(f"{source}:{number}: 'prompt' and 'response' must be strings")
        problem = message_problem({"text": prompt, "lang": record.get("lang", "en")})
        problem = problem or message_problem({"text": response, "lang": record.get("lang", "en")})
        if problem:
            drops[f"reply_{problem}"] += 1
            continue
        score = _first(record, _SCORE_KEYS)
        rank = record.get("rank")
        if score is not None:
            score = _number(score, f"{source}:{number}", "score")
        if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or rank < 0):
            raise SeedFormatError(f"{source}:{number}: rank must be an integer >= 0")
        if rank is not None and rank > MAX_RANK:
            raise SeedFormatError(
                f"{source}:{number}: rank must be at most {MAX_RANK} (an "
                f"Int64), got an integer of {rank.bit_length()} bits"
            )
        rows.append(
            {
                "group_id": content_id(normalize_text(prompt)),
                "prompt": prompt.strip(),
                "response": response.strip(),
                "rank": rank,
                # A plain score is only a "quality" when it is on oasst's 0-1 scale; any other
                # scale still orders the replies (see _ranks_from_scores).
                "quality": float(score) if score is not None and 0 <= score <= 1 else None,
                "_score": float(score) if score is not None else None,
                "source": source,
            }
        )
    return rows


def _ranks_from_scores(frame: pl.DataFrame) -> pl.DataFrame:
    """Fill missing ranks from the group's scores (higher score = better = rank 0)."""
    derived = (
        pl.col("_score").rank(method="min", descending=True).over("group_id").cast(pl.Int64) - 1
    )
    return frame.with_columns(rank=pl.coalesce("rank", derived)).drop("_score")


def read_replies(spec: str) -> tuple[pl.DataFrame, Counter]:
    """Read one seed source into first-turn reply rows plus drop counts (module docstring)."""
    records = load_records(spec)
    drops: Counter = Counter()
    if not records:
        raise SeedFormatError(f"{spec}: no records")
    number, first = records[0]
    kind = detect_format(first)
    if kind == "trees":
        rows = _trees(records, spec, drops)
    elif kind == "messages":
        rows = _messages(records, spec, drops)
    elif kind == "plain":
        rows = _plain(records, spec, drops)
    else:
        keys = sorted(first) if isinstance(first, dict) else type(first).__name__
        raise SeedFormatError(
            f"{spec}:{number}: unknown seed format (found {keys}); expected oasst trees, "
            "oasst messages (message_id, parent_id, role, text) or {prompt, response, rank|score}"
        )
    frame = pl.DataFrame(rows, schema={**REPLY_COLUMNS, "_score": pl.Float64}, strict=False)
    return _ranks_from_scores(frame), drops


def read_prompts(spec: str) -> list[str]:
    """Every user prompt in an evaluation file (any seed format, AlpacaEval, MT-Bench, lists)."""
    records = load_records(spec)
    prompts: list[str] = []
    for _, record in records:
        if isinstance(record, str):
            prompts.append(record)
        elif isinstance(record, dict):
            if "turns" in record:  # MT-Bench: every turn is a prompt the model will see
                prompts += [t for t in record["turns"] if isinstance(t, str)]
            elif isinstance(record.get("prompt"), dict):
                prompts.append(record["prompt"].get("text", ""))
            elif "message_id" in record:
                if record.get("parent_id") is None:
                    prompts.append(record.get("text", ""))
            elif (text := _first(record, _PROMPT_KEYS)) is not None:
                prompts.append(text)
    return [p for p in prompts if isinstance(p, str) and not is_blank(p)]
