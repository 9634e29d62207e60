"""The metrics files the report reads, checked: `load_metrics(path)` is the file's JSON object
(None when the file does not exist), or one `ReportError` line naming the file and the key,
for a file that is not a regular file of bounded size, not JSON, or not the shape its stage
writes (an empty `judge.json` would otherwise give a row of empty cells).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from srlm.core.bounded_read import METADATA_LIMIT, read_text
from srlm.core.errors import SrlmError
from srlm.core.text import parse_json
from srlm.evaluation.ifeval_report import HEADERS

MODES = ("sampled", "expected")
MONITOR_KEYS = (
    "top_score_share",
    "score_gap",
    "length_gap_chars",
    "length_ratio_vs_m1",
    "pair_yield",
    "parse_rate",
    "judge_consistency_tau",
)


class ReportError(SrlmError):
    """A metrics file the report cannot read; the message names it."""


# The keys each metrics file always has (its stage writes them, null when not measurable):
# a file without one is not that stage's output, and would give a row of empty cells.
REQUIRED = {
    "judge": MODES,
    "ifeval": tuple(HEADERS),
    "monitors": MONITOR_KEYS,
    "reference": ("soft_win_rate",),
    "h2h": ("soft_win_rate",),
    "answers": ("mean_chars",),
    "pairs": ("pairs", "yield"),
    "judgments": ("parse_rate",),
}
# Keys whose value is a group of metrics rather than a number.
GROUPS = {"judge": MODES}


def check_shape(path: Path, stem: str, data: object) -> dict:
    """`data` (metrics file `path`, of kind `stem`) as the report needs it: a JSON object
    with every `REQUIRED` key, numbers (or null) there and objects under `GROUPS`;
    `ReportError` naming the file and the key otherwise."""
    rebuild = "rebuild it with `dvc repro`"
    if not isinstance(data, dict):
        raise ReportError(
            f"{path}: expected a JSON object of metrics, got {type(data).__name__}; {rebuild}"
        )
    for key in REQUIRED.get(stem, ()):
        if key not in data:
            raise ReportError(
                f"{path}: no key '{key}' (an empty or foreign metrics file); {rebuild}"
            )
        value, group = data[key], key in GROUPS.get(stem, ())
        if group and not isinstance(value, dict):
            raise ReportError(
                f"{path}: key '{key}' must be an object of metrics, got "
                f"{type(value).__name__}; {rebuild}"
            )
        if not group and (
            isinstance(value, bool) or not isinstance(value, int | float | type(None))
        ):
            raise ReportError(
                f"{path}: key '{key}' must be a number or null, got {repr(value)[:80]}; {rebuild}"
            )
    return data


def load_metrics(path: Path) -> dict | None:
    """The metrics file `path` as the report needs it (None when it does not exist)."""
    if not os.path.lexists(path):
        return None
    # a regular file of bounded size: a FIFO or /dev/zero named there never hangs the report
    text = read_text(path, "metrics file", METADATA_LIMIT, ReportError)
    try:
        data = parse_json(text, str(path))
    except json.JSONDecodeError as err:
        raise ReportError(
            f"{path}: not a valid metrics JSON file ({err}); rebuild it with `dvc repro`"
        ) from None
    return check_shape(path, path.stem, data)
