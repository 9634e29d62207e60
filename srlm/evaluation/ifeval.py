"""IFEval: judge-free instruction-following checks (Zhou et al. 2023, arXiv:2311.07911).

Each IFEval prompt carries instructions a program can verify ("no commas", "at least 300
words", "wrap the whole answer in JSON"). The checks are Google's own instruction classes
(`if_verifiable.ifeval`, PyPI `if-verifiable==0.1.2`); this module reads the prompt file and
applies them exactly as Google's harness (`instruction_following_eval/evaluation_lib.py`) does:
- `read_ifeval(path)`: the prompt file (`data/raw/ifeval/input_data.jsonl`), validated;
- `check_response(item, response)`: `(strict, loose)`, one bool per instruction;
- `instruction_ids()`: the 25 instruction ids.
Tokenization goes through a bundled Punkt model, never NLTK data, and every verdict is
reproducible (see `ifeval_upstream`).

    >>> items = read_ifeval("data/raw/ifeval/input_data.jsonl")   # doctest: +SKIP
    >>> strict, loose = check_response(items[0], "...model answer...")   # doctest: +SKIP

The upstream file's quirks (e.g. keys 1174 and 337, whose kwargs disagree with their prompt
text) are kept: scores are only comparable with other IFEval numbers on the same data.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from srlm.core.bounded_read import DATA_LIMIT, read_text
from srlm.core.errors import SrlmError
from srlm.core.text import parse_json
from srlm.evaluation import ifeval_upstream


@dataclass(frozen=True)
class IFEvalItem:
    """One IFEval prompt and its instructions (`kwargs[i]` parametrises `instruction_ids[i]`)."""

    key: int
    prompt: str
    instruction_ids: tuple[str, ...]
    kwargs: tuple[dict, ...]


@functools.cache
def _upstream() -> tuple[dict, tuple]:
    """Google's instruction classes by id, set up by `ifeval_upstream`, and their modules.

    Imported on first use: `if_verifiable` imports `datasets`, slow for commands that never
    check IFEval.
    """
    from if_verifiable.ifeval import instructions, instructions_registry, instructions_util

    ifeval_upstream.use_bundled_punkt(instructions_util)
    ifeval_upstream.seed_langdetect(0)
    ifeval_upstream.quiet_langdetect_log(instructions)
    return dict(instructions_registry.INSTRUCTION_DICT), (instructions, instructions_util)


def _registry() -> dict:
    return _upstream()[0]


def _build(instruction, key: int, index: int, **kwargs):
    """`instruction.build_description(**kwargs)` with randomness seeded by its place.

    Google's classes draw a random value for an argument they reject (e.g. the '#' "letter"
    of key 1122); seeding by key and index keeps that value fixed from run to run.
    """
    with ifeval_upstream.seeded_random(f"ifeval:{key}:{index}", *_upstream()[1]):
        instruction.build_description(**kwargs)
    return instruction


def instruction_ids() -> list[str]:
    """The 25 instruction ids IFEval uses, sorted."""
    return sorted(_registry())


def _fail(where: str, message: str) -> SrlmError:
    return SrlmError(f"{where}: {message}")


def _field(row: dict, name: str, kind: type, where: str):
    """`row[name]`, which must be a `kind` (bool is not an int here)."""
    if name not in row:
        raise _fail(where, f"missing field '{name}'")
    value = row[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _fail(where, f"field '{name}' must be {kind.__name__}, got {type(value).__name__}")
    return value


def _check_kwargs(instruction_id: str, kwargs: dict, key: int, index: int, where: str) -> None:
    """The kwargs must be exactly the instruction's arguments and build it.

    A missing argument is refused rather than left to `build_description`, which would fill
    it with a random value and make the score change from run to run.
    """
    instruction = _registry()[instruction_id](instruction_id)
    expected = set(instruction.get_instruction_args_keys())
    if set(kwargs) != expected:
        raise _fail(
            where,
            f"field 'kwargs'[{index}] for '{instruction_id}' has arguments "
            f"{sorted(kwargs)}, expected {sorted(expected)}",
        )
    try:
        _build(instruction, key, index, **kwargs)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        detail = (str(error).splitlines() or [""])[0]
        raise _fail(
            where,
            f"field 'kwargs'[{index}] for '{instruction_id}' does not build "
            f"({type(error).__name__}: {detail})",
        ) from None


def _item(row, where: str) -> IFEvalItem:
    if not isinstance(row, dict):
        raise _fail(where, f"expected a JSON object, got {type(row).__name__}")
    key = _field(row, "key", int, where)
    prompt = _field(row, "prompt", str, where)
    ids = _field(row, "instruction_id_list", list, where)
    all_kwargs = _field(row, "kwargs", list, where)
    if not ids:
        raise _fail(where, "field 'instruction_id_list' is empty")
    if len(all_kwargs) != len(ids):
        raise _fail(
            where,
            f"field 'kwargs' has {len(all_kwargs)} entries but "
            f"'instruction_id_list' has {len(ids)}",
        )
    known = _registry()
    kept = []
    for index, (instruction_id, kwargs) in enumerate(zip(ids, all_kwargs, strict=True)):
        if not isinstance(instruction_id, str) or instruction_id not in known:
            raise _fail(
                where,
                f"field 'instruction_id_list'[{index}] is {instruction_id!r}, "
                "not an IFEval instruction id",
            )
        if not isinstance(kwargs, dict):
            raise _fail(
                where, f"field 'kwargs'[{index}] must be an object, got {type(kwargs).__name__}"
            )
        # The Hugging Face copy (google/IFEval) pads every kwargs dict with every argument
        # name as null; harnesses drop those before `build_description(**kwargs)`.
        kwargs = {name: value for name, value in kwargs.items() if value is not None}
        _check_kwargs(instruction_id, kwargs, key, index, where)
        kept.append(kwargs)
    return IFEvalItem(key=key, prompt=prompt, instruction_ids=tuple(ids), kwargs=tuple(kept))


def read_ifeval(path) -> list[IFEvalItem]:
    """The IFEval items of a jsonl file (`key, prompt, instruction_id_list, kwargs` a line).

    Raises SrlmError naming `file:line` and the field for a bad line, and for a repeated key
    (responses are matched to prompts by key). Blank lines are skipped.
    """
    path = Path(path)
    lines = read_text(path, "IFEval file", DATA_LIMIT, SrlmError).splitlines()
    items: list[IFEvalItem] = []
    seen: dict[int, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = parse_json(line, where)  # a lone surrogate, nesting too deep: named
        except json.JSONDecodeError as error:
            raise _fail(where, f"not valid JSON ({error.msg}, column {error.colno})") from None
        item = _item(row, where)
        if item.key in seen:
            raise _fail(where, f"field 'key' {item.key} repeats line {seen[item.key]}")
        seen[item.key] = number
        items.append(item)
    if not items:
        raise SrlmError(f"{path}: no IFEval items")
    return items


def _instruction(item: IFEvalItem, index: int):
    """Instruction `index` of `item`, built as Google's harness builds it."""
    instruction_id = item.instruction_ids[index]
    instruction = _registry()[instruction_id](instruction_id)
    _build(instruction, item.key, index, **item.kwargs[index])
    # Google's harness rebuilds an instruction that takes the prompt itself (none of the 25
    # does today); kept so the semantics stay the harness's.
    if "prompt" in instruction.get_instruction_args_keys():
        _build(instruction, item.key, index, prompt=item.prompt)
    return instruction


def loose_variants(response: str) -> list[str]:
    """The 8 texts the loose score tries: the response and, each also with every '*' removed,
    the response without its first line, without its last line, and without both (stripped).
    """
    lines = response.split("\n")
    trimmed = [response] + [
        "\n".join(part).strip() for part in (lines[1:], lines[:-1], lines[1:-1])
    ]
    return trimmed + [text.replace("*", "") for text in trimmed]


def check_response(item: IFEvalItem, response: str) -> tuple[list[bool], list[bool]]:
    """`(strict, loose)`: whether `response` follows each of `item`'s instructions, in order.

    Strict checks the response as it is; loose passes an instruction when any of
    `loose_variants(response)` that is not blank passes it (Google's upper bound, forgiving a
    "Sure, here it is:" line or markdown emphasis). A blank response fails everything.
    """
    if not isinstance(response, str):
        raise SrlmError(
            f"IFEval key {item.key}: the response is {type(response).__name__}, not text"
        )
    # The response itself is variant 0; blank variants never pass (as in Google's harness).
    others = [text for text in loose_variants(response)[1:] if text.strip()]
    strict, loose = [], []
    for index in range(len(item.instruction_ids)):
        instruction = _instruction(item, index)
        passed = bool(response.strip()) and bool(instruction.check_following(response))
        strict.append(passed)
        loose.append(passed or any(bool(instruction.check_following(text)) for text in others))
    return strict, loose
