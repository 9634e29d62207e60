"""Did a rebuild reproduce a run? Two runs' DVC metrics compared figure by figure.

A rebuild on another CPU or GPU trains models whose bf16 arithmetic rounded differently, so
every artifact after the first trained model differs in bytes and `dvc metrics diff` lists
nearly every figure as changed. This module says instead whether the two runs *agree*:

- a figure `x` with a 95% interval (a sibling `x_ci95: [lo, hi]`) in both runs **agrees** when
  the two intervals overlap, and **differs** when they are disjoint. Overlap is the
  conservative test for two independent runs: disjoint 95% intervals mean the difference is
  significant well below the 5% level (about 0.6% for intervals of equal width), while
  overlapping ones do not prove equality. So `differ` is only said on strong evidence, and
  the difference B - A is stated either way. Two intervals of zero width (a bootstrap over a
  single example) carry no uncertainty, so such a figure is compared like a float without one;
- counts and other exact values (ints, strings, booleans, null) are **same** or **changed**;
  a changed count means the runs did not see the same data (or a trained model's outputs
  differed enough to change a tally), so it is flagged;
- floats without an interval (losses, rates without one) are **same** when equal to 4
  decimals, else **moved (no interval)**: no statement about agreement is possible;
- timings (seconds, tokens per second, wall time, peak RSS, start/finish dates) are never
  compared, nor are content hashes, absolute paths and machine or version strings;
- a figure (or a whole file) present in one run only is **only in A** / **only in B**.

`compare(a_files, b_files)` returns rows (JSON-ready dicts); `summarize` gives the counts, the
one-line verdict and the exit code; `srlm.tools.comparison_report` renders the rows. The metrics
are read by `srlm.tools.metrics_sources`.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from srlm.core.errors import SrlmError

SAME, AGREE, DIFFER = "same", "agree", "differ"
CHANGED, MOVED = "changed", "moved (no interval)"
ONLY_A, ONLY_B = "only in A", "only in B"
NOT_COMPARED = "not compared"  # the status is "not compared (<why>)"
# Word parts (of any key on a figure's path) that make it a timing. Timings change with the
# machine's load and speed, never with the results.
TIMING_WORDS = {
    "seconds",
    "second",
    "secs",
    "sec",
    "s",
    "ms",
    "minutes",
    "hours",
    "time",
    "timing",
    "timings",
    "elapsed",
    "wall",
    "duration",
    "rss",
    "started",
    "finished",
    "timestamp",
    "date",
    "throughput",
}
# Strings under these words describe the machine or its software, or are content hashes (a
# model's hash differs after bf16 rounding by design): they say nothing about agreement.
MACHINE_WORDS = {
    "host",
    "hostname",
    "machine",
    "cpu",
    "gpu",
    "platform",
    "processor",
    "node",
    "device",
    "uname",
    "version",
    "versions",
    "python",
    "torch",
    "cuda",
}
HASH_WORDS = {"sha256", "sha1", "sha", "md5", "hash", "checksum", "fingerprint"}
PATH_WORDS = {"path", "dir", "folder", "cwd", "home"}
CI_SUFFIX = "_ci95"


def _words(key: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", key.lower())) - {""}


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _interval(value, where: str) -> tuple[float, float] | None:
    """`[lo, hi]` as a tuple, `None` for null; anything else is an error naming `where`."""
    if value is None:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(map(_is_number, value))
        and value[0] <= value[1]
    ):
        return float(value[0]), float(value[1])
    raise SrlmError(f"{where}: expected a 95% interval [low, high] or null, got {value!r}")


def flatten(tree: dict, name: str, prefix: tuple = ()) -> dict[str, tuple]:
    """Figure name (keys joined by '.', as `dvc metrics` shows them) -> (value, interval).

    A sibling `x_ci95` becomes the interval of `x` instead of a figure of its own.
    """
    figures = {}
    for key, value in tree.items():
        path = (*prefix, key)
        if isinstance(value, dict):
            figures.update(flatten(value, name, path))
            continue
        if key.endswith(CI_SUFFIX) and key.removesuffix(CI_SUFFIX) in tree:
            continue  # read with its figure below
        ci = None
        if f"{key}{CI_SUFFIX}" in tree:
            ci = _interval(tree[f"{key}{CI_SUFFIX}"], f"{name}: {'.'.join(path)}{CI_SUFFIX}")
        figures[".".join(path)] = (value, ci)
    return figures


def _skip_reason(figure: str, a, b) -> str | None:
    """Why a figure is not compared, or None when it is."""
    words = _words(figure)
    if words & TIMING_WORDS:
        return "timing"
    text = next((v for v in (a, b) if isinstance(v, str)), None)
    if text is None:
        return None
    if words & HASH_WORDS:
        return "hash"
    if words & MACHINE_WORDS:
        return "machine"
    # Relative paths (`data/models/m1`) are the same in every clone and say what was used;
    # absolute ones name a machine's folders.
    if words & PATH_WORDS or text.startswith(("/", "~")) or re.match(r"[A-Za-z]:\\", text):
        return "path"
    return None


def _rounded(value):
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else str(value)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _signed(x: float) -> str:
    return f"{round(x, 4):+}"


def classify(figure: str, a: tuple, b: tuple) -> tuple[str, str]:
    """(status, note) for one figure present in both runs; `a`/`b` are (value, interval)."""
    (va, ca), (vb, cb) = a, b
    reason = _skip_reason(figure, va, vb)
    if reason:
        return f"{NOT_COMPARED} ({reason})", ""
    numbers = _is_number(va) and _is_number(vb)
    # Two zero-width intervals (a bootstrap over one example, or identical examples) carry no
    # uncertainty: two such points would "differ" whenever they are not equal.
    if numbers and ca and cb and (ca[0] < ca[1] or cb[0] < cb[1]):
        diff = f"B-A {_signed(vb - va)}"
        if ca[0] <= cb[1] and cb[0] <= ca[1]:
            return AGREE, f"{diff}; intervals overlap"
        return DIFFER, f"{diff}; intervals do not overlap"
    if numbers and (isinstance(va, float) or isinstance(vb, float) or ca or cb):
        if _rounded(float(va)) == _rounded(float(vb)):
            return SAME, ""
        why = (
            " (both intervals have zero width)"
            if ca and cb
            else " (interval only in A)"
            if ca
            else " (interval only in B)"
            if cb
            else ""
        )
        return MOVED, f"B-A {_signed(vb - va)}{why}"
    if _rounded(va) == _rounded(vb):
        return SAME, ""
    if _is_number(va) and _is_number(vb):
        return CHANGED, f"count B-A {vb - va:+d}"
    if va is None or vb is None:
        return CHANGED, f"null in {'A' if va is None else 'B'}"
    return CHANGED, "value changed"


def _row(file: str, figure: str, status: str, a, b, note: str = "") -> dict:
    (va, ca), (vb, cb) = a or (None, None), b or (None, None)
    return {
        "file": file,
        "figure": figure,
        "status": status,
        "a": va,
        "a_ci95": ca,
        "b": vb,
        "b_ci95": cb,
        "note": note,
    }


def compare(a_files: dict[str, dict], b_files: dict[str, dict]) -> list[dict]:
    """Every figure of both runs, grouped by file (sorted), in the files' own key order."""
    rows = []
    for file in sorted(set(a_files) | set(b_files)):
        if file not in b_files or file not in a_files:
            status, present = (ONLY_A, a_files) if file not in b_files else (ONLY_B, b_files)
            count = len(flatten(present[file], file))
            rows.append(_row(file, "(whole file)", status, None, None, f"{count} figures"))
            continue
        fa, fb = flatten(a_files[file], file), flatten(b_files[file], file)
        for figure in [*fa, *(f for f in fb if f not in fa)]:
            if figure not in fb or figure not in fa:
                status = ONLY_A if figure not in fb else ONLY_B
                if _words(figure) & TIMING_WORDS:  # a timing added or dropped is no result
                    status = f"{NOT_COMPARED} (timing)"
                rows.append(_row(file, figure, status, fa.get(figure), fb.get(figure)))
                continue
            status, note = classify(figure, fa[figure], fb[figure])
            rows.append(_row(file, figure, status, fa[figure], fb[figure], note))
    return rows


def failing(row: dict, allow_count_changes: bool = False) -> bool:
    """Whether a row makes the comparison fail (exit code 1)."""
    return row["status"] == DIFFER or (row["status"] == CHANGED and not allow_count_changes)


def summarize(rows: list[dict], allow_count_changes: bool = False) -> tuple[dict, str, int]:
    """(counts by status, one-line verdict, exit code): 1 when a figure differs or a count
    changed (only the former with `allow_count_changes`), else 0."""
    counts = Counter(
        NOT_COMPARED if r["status"].startswith(NOT_COMPARED) else r["status"] for r in rows
    )
    code = int(any(failing(r, allow_count_changes) for r in rows))
    changed = [r for r in rows if r["status"] == CHANGED]
    what = (
        "counts"
        if all(_is_number(r["a"]) and _is_number(r["b"]) for r in changed)
        else "counts or labels"
    )
    verdict = (
        f"{'agree' if code == 0 else 'DIFFER'}: {counts[AGREE]} figures agree within intervals, "
        f"{counts[DIFFER]} differ, {counts[CHANGED]} {what} changed"
        f"{' (allowed)' if allow_count_changes and changed else ''}; {counts[SAME]} the same, "
        f"{counts[MOVED]} moved without an interval, {counts[ONLY_A] + counts[ONLY_B]} in one "
        f"run only, {counts[NOT_COMPARED]} not compared (timings, hashes, paths, machine)"
    )
    return dict(counts), verdict, code
