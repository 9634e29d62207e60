"""What counts as text: blank text, and JSON a UTF-8 artifact can hold.

- `is_blank(text)`: nothing a reader could see: only whitespace, zero-width and other format
  characters (Unicode categories Zs and Cf: U+200B..U+200D, U+2060, U+FEFF, soft hyphens,
  direction marks). Every place that drops empty prompts or replies asks this one predicate,
  so a prompt of zero-width spaces is as empty as one of blanks.
- `parse_json(text, where)`: `json.loads` plus the two things JSON allows and Python or a
  parquet file cannot take, each as one line naming `where` (a file, or `file:line`):
  nesting deeper than Python's recursion limit (RecursionError deep inside the decoder) and
  lone surrogates (`"\\ud800"` decodes to a str that UTF-8 cannot encode, so the write that
  comes much later would fail without naming the input). Malformed JSON still raises
  `json.JSONDecodeError`, for the caller's own message. An integer of more than 4,300 digits
  (Python's limit on int parsing) is named as well.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from srlm.core.errors import SrlmError

# Category Zs: space separators (no-break space, ideographic space, ...); Cf: format
# characters (zero-width space/joiners, word joiner, BOM, direction marks, soft hyphen).
_INVISIBLE = ("Zs", "Cf")
# A \uD800-\uDFFF escape: only then can a decoded string hold a surrogate (a valid pair
# decodes to one character, so a match only means "look closer").
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


class JsonTextError(SrlmError):
    """JSON that parses but cannot be used: too deeply nested, or a lone surrogate."""


def is_blank(text: str) -> bool:
    """True when `text` shows nothing: empty, or only whitespace and invisible characters."""
    return all(ch.isspace() or unicodedata.category(ch) in _INVISIBLE for ch in text)


def _is_surrogate(ch: str) -> bool:
    return "\ud800" <= ch <= "\udfff"


def lone_surrogate(value: Any) -> str | None:
    """The first lone surrogate in any string of a parsed JSON value (keys included), as
    `\\uXXXX`; None when every string is valid Unicode. Iterative: a value nested almost to
    the recursion limit must not hit it here."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            bad = next((ch for ch in item if _is_surrogate(ch)), None)
            if bad is not None:
                return f"\\u{ord(bad):04x}"
        elif isinstance(item, dict):
            todo += list(item.keys()) + list(item.values())
        elif isinstance(item, list):
            todo += item
    return None


def parse_json(text: str, where: str) -> Any:
    """`json.loads(text)`; `JsonTextError` naming `where` for nesting too deep to parse and
    for a lone surrogate (module docstring). `json.JSONDecodeError` passes through."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise JsonTextError(
            f"{where}: JSON nested too deeply (more levels than Python's recursion limit allows)"
        ) from None
    except ValueError as err:  # an integer of more than 4,300 digits (Python's int limit)
        raise JsonTextError(
            f"{where}: a JSON number too long to read ({err})".splitlines()[0]
        ) from None
    if _SURROGATE_ESCAPE.search(text) and (bad := lone_surrogate(value)):
        raise JsonTextError(
            f"{where}: not valid UTF-8 text (a lone surrogate {bad} in a JSON string)"
        )
    return value
