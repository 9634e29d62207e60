"""The data view's pages across models and iterations (see `srlm.tools.view`).

- `answers-0001.html`, ...: each evaluation prompt with every model's greedy answer side by
  side (and the reference answer, and each model's verdict against it where it was judged);
- `ifeval-0001.html`, ...: each IFEval prompt with every model's answer and which of its
  instructions each answer passes (strict);
- `diff/<a>-<b>.html`: what `srlm diff` reports for each artifact of two consecutive
  iterations (rows, text lengths, score histograms, pair margins, a few example rows).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import polars as pl

from srlm.tools.diff import diff_frames, is_unchanged
from srlm.tools.view_data import page_name, pages

ACROSS_PAGE_SIZE = 25  # prompts a page; each shows one answer per model
DIFF_KINDS = {  # artifact folder -> schema, compared between consecutive iterations
    "prompts": "prompts",
    "candidates": "candidates",
    "judgments": "judgments",
    "scores": "candidate_scores",
    "pairs": "pairs",
}
DIFF_EXAMPLES = 3  # example rows of each change a diff page shows
# Text columns that are labels, not model text: their lengths say nothing on a diff page.
LABELS = {"iteration", "generator", "model", "finish_reason", "source", "reference_model"}


@dataclass
class Column:
    """One model's answer to a prompt."""

    model: str
    text: str | None  # None: the model has no answer to this prompt
    meta: str = ""
    badge: str = ""  # e.g. the verdict against the reference, or "3/3 pass"
    good: bool | None = None  # colours the badge: True good, False bad, None neutral


@dataclass
class AcrossRecord:
    """A prompt and each model's answer."""

    prompt_id: str
    prompt: str
    note: str = ""
    reference: str | None = None
    columns: list[Column] = field(default_factory=list)


def _meta(row: dict) -> str:
    return f"{row['n_tokens']} tokens, {row['finish_reason']}"


def answer_records(
    eval_prompts: pl.DataFrame,
    answers: dict[str, pl.DataFrame],
    verdicts: dict[str, pl.DataFrame],
) -> list[AcrossRecord]:
    """Each evaluation prompt with every model's answer (`answers`: model -> its answers
    artifact) and its verdict against the reference (`verdicts`: model -> its reference
    verdicts), in the prompts' order."""
    by_model = {m: {r["prompt_id"]: r for r in f.iter_rows(named=True)} for m, f in answers.items()}
    outcome = {m: dict(f.select("prompt_id", "outcome").iter_rows()) for m, f in verdicts.items()}
    records = []
    for row in eval_prompts.iter_rows(named=True):
        record = AcrossRecord(row["prompt_id"], row["prompt"], row["source"], row.get("reference"))
        for model, rows in by_model.items():
            answer = rows.get(row["prompt_id"])
            verdict = outcome.get(model, {}).get(row["prompt_id"])
            record.columns.append(
                Column(
                    model,
                    None if answer is None else answer["response"],
                    "" if answer is None else _meta(answer),
                    f"{verdict} vs reference" if verdict else "",
                    {"win": True, "loss": False}.get(verdict or ""),
                )
            )
        records.append(record)
    return records


def ifeval_across(results: dict[str, pl.DataFrame]) -> list[AcrossRecord]:
    """Each IFEval prompt (by key) with every model's answer and its strict verdicts."""
    by_model = {m: {r["key"]: r for r in f.iter_rows(named=True)} for m, f in results.items()}
    prompts: dict[int, dict] = {}
    for rows in by_model.values():
        for key, row in rows.items():
            prompts.setdefault(key, row)
    records = []
    for key in sorted(prompts):
        first = prompts[key]
        record = AcrossRecord(str(key), first["prompt"], ", ".join(first["instruction_ids"]))
        for model, rows in by_model.items():
            if key not in rows:
                record.columns.append(Column(model, None))
                continue
            row = rows[key]
            passed = sum(row["strict"])
            failed = [
                i for i, ok in zip(row["instruction_ids"], row["strict"], strict=True) if not ok
            ]
            badge = f"{passed}/{len(row['strict'])} pass"
            if failed:
                badge += " — fails " + ", ".join(failed)
            record.columns.append(
                Column(model, row["response"], _meta(row), badge, passed == len(row["strict"]))
            )
        records.append(record)
    return records


def write_across(
    env: jinja2.Environment, stem: str, title: str, records: list[AcrossRecord], out: Path
) -> list[str]:
    """Write `records` as pages `out/<stem>-0001.html`, ...; return the page names."""
    size = ACROSS_PAGE_SIZE
    chunks = pages(records, size)
    names = [page_name(n, stem) for n in range(1, len(chunks) + 1)]
    template = env.get_template("across.html.j2")
    for number, chunk in enumerate(chunks, start=1):
        html = template.render(
            title=title, records=chunk, page=number, pages=names, total=len(records)
        )
        (out / names[number - 1]).write_text(html, encoding="utf-8")
    return names


def diff_reports(old: dict[str, pl.DataFrame], new: dict[str, pl.DataFrame]) -> list[dict]:
    """`srlm diff`'s report of each artifact the two iterations both have (with a few example
    rows of each change)."""
    reports = []
    for kind, schema in DIFF_KINDS.items():
        if kind in old and kind in new:
            report = diff_frames(old[kind].lazy(), new[kind].lazy(), schema, DIFF_EXAMPLES)
            report["unchanged"] = is_unchanged(report)
            for side in report["text"].values():
                for label in LABELS & set(side):
                    del side[label]
            report["name"] = kind
            reports.append(report)
    return reports


def write_diffs(
    env: jinja2.Environment, iterations: dict[str, dict[str, pl.DataFrame]], out: Path
) -> list[dict]:
    """One diff page a pair of consecutive iterations (`out/diff/<a>-<b>.html`); returns
    their index entries (`before`, `after`, `href`)."""
    names = list(iterations)
    if len(names) < 2:
        return []
    (out / "diff").mkdir()
    template = env.get_template("diff.html.j2")
    entries = []
    for before, after in itertools.pairwise(names):
        reports = diff_reports(iterations[before], iterations[after])
        href = f"diff/{before}-{after}.html"
        html = template.render(before=before, after=after, reports=reports)
        (out / href).write_text(html, encoding="utf-8")
        entries.append({"before": before, "after": after, "href": href})
    return entries
