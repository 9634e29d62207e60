"""The rows of `srlm.tools.run_comparison.compare` as text, markdown or JSON.

By default only the rows a reader must look at are shown: figures that differ, counts that
changed, floats that moved without an interval, and figures in one run only. `show_all` adds
the rest (same, agreeing within intervals, not compared). The JSON always has every row, so a
program filters by `status` itself. Every format ends with the one-line verdict.
"""

from __future__ import annotations

import json

from srlm.tools.run_comparison import AGREE, NOT_COMPARED, SAME, failing, summarize

QUIET_STATUSES = (SAME, AGREE)


def shown(rows: list[dict], show_all: bool) -> list[dict]:
    """The rows to print: all, or those that are not the same, agreeing or not compared."""
    if show_all:
        return rows
    return [
        r
        for r in rows
        if r["status"] not in QUIET_STATUSES and not r["status"].startswith(NOT_COMPARED)
    ]


def _value(value, ci) -> str:
    if value is None and ci is None:
        return "-"
    if isinstance(value, float):
        text = repr(round(value, 4))
    elif isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
    else:
        text = json.dumps(value)
    return text + (f" [{round(ci[0], 4)!r}, {round(ci[1], 4)!r}]" if ci else "")


def _cells(row: dict, allow_count_changes: bool) -> list[str]:
    status = row["status"].upper() if failing(row, allow_count_changes) else row["status"]
    return [
        row["figure"],
        _value(row["a"], row["a_ci95"]),
        _value(row["b"], row["b_ci95"]),
        status,
        row["note"],
    ]


def _by_file(rows: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["file"], []).append(row)
    return groups


def text_report(
    rows: list[dict],
    a_label: str,
    b_label: str,
    show_all: bool = False,
    allow_count_changes: bool = False,
) -> str:
    """An aligned plain-text table per file, then the verdict."""
    lines = [f"A = {a_label}", f"B = {b_label}"]
    picked = shown(rows, show_all)
    header = ["figure", "A", "B", "status", "note"]
    # One set of column widths for all files, so the tables line up down the page.
    widths = [len(h) for h in header]
    for row in picked:
        widths = [
            max(w, len(c)) for w, c in zip(widths, _cells(row, allow_count_changes), strict=True)
        ]

    def line(cells: list[str]) -> str:
        return "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    for file, group in _by_file(picked).items():
        lines += ["", file, line(header)]
        lines += [line(_cells(row, allow_count_changes)) for row in group]
    if not picked:
        lines += ["", "(nothing to show: every figure is the same or agrees; --all lists them)"]
    lines += ["", summarize(rows, allow_count_changes)[1]]
    return "\n".join(lines) + "\n"


def markdown_report(
    rows: list[dict],
    a_label: str,
    b_label: str,
    show_all: bool = False,
    allow_count_changes: bool = False,
) -> str:
    """A markdown table per file (for a pull request or an issue), then the verdict."""
    lines = [f"A = `{a_label}`, B = `{b_label}`"]
    for file, group in _by_file(shown(rows, show_all)).items():
        lines += [
            "",
            f"#### {file}",
            "",
            "| figure | A | B | status | note |",
            "|---|---|---|---|---|",
        ]
        for row in group:
            cells = [c.replace("|", "\\|") for c in _cells(row, allow_count_changes)]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"**{summarize(rows, allow_count_changes)[1]}**"]
    return "\n".join(lines) + "\n"


def json_report(
    rows: list[dict], a_label: str, b_label: str, allow_count_changes: bool = False
) -> str:
    """Every row, the counts by status, the verdict and the exit code, as JSON."""
    counts, verdict, code = summarize(rows, allow_count_changes)
    return (
        json.dumps(
            {
                "a": a_label,
                "b": b_label,
                "verdict": verdict,
                "exit_code": code,
                "counts": counts,
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
