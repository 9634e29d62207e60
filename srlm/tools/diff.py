"""What changed inside an artifact: two artifact frames of one kind compared with polars.

`diff_frames(old, new, schema)` takes two LazyFrames (so million-row artifacts are scanned,
never turned into Python objects) and returns a JSON-ready report:
- `schema`: columns added, removed, or with another type;
- `rows`: counts, and rows added / removed / changed, matched by the artifact's stable id
  columns (`KEYS`); a changed row has the same id and different content;
- `text`: length statistics of every text column, before and after;
- `scores`: for score columns, mean and a 0-5 histogram before and after;
- `pairs` (pairs artifacts): margin statistics and the share of shared prompts whose chosen
  answer changed.
`format_report` renders it as a table for people.
"""

from __future__ import annotations

from typing import Any

import polars as pl

# The columns that identify a row of each artifact across builds and iterations.
KEYS = {
    "seed_ift": ["example_id"],
    "seed_eft": ["example_id"],
    "prompts": ["prompt_id"],
    "dropped_prompts": ["request_id"],
    "candidates": ["candidate_id"],
    "judgments": ["candidate_id", "sample"],
    "candidate_scores": ["candidate_id"],
    "anchors": ["candidate_id"],
    "pairs": ["prompt_id"],
    "judge_outputs": ["example_id", "sample"],
    "eval_prompts": ["prompt_id"],
    "answers": ["prompt_id"],
    "verdicts": ["prompt_id"],
    "ifeval_results": ["key"],
}
SCORE_COLUMNS = (
    "score",
    "mean_score",
    "chosen_score",
    "rejected_score",
    "target_score",
    "expected_score",
    "sampled_score",
)


def _schema_diff(old: pl.Schema, new: pl.Schema) -> dict:
    return {
        "added": [c for c in new if c not in old],
        "removed": [c for c in old if c not in new],
        "type_changed": {
            c: [str(old[c]), str(new[c])] for c in old if c in new and old[c] != new[c]
        },
    }


def _text_stats(frame: pl.LazyFrame, columns: list[str]) -> dict:
    if not columns:
        return {}
    exprs = []
    for c in columns:
        length = pl.col(c).str.len_chars()
        exprs += [
            length.mean().alias(f"{c}|mean"),
            length.median().alias(f"{c}|median"),
            length.max().alias(f"{c}|max"),
        ]
    row = frame.select(exprs).collect().row(0, named=True)
    return {c: {k: _round(row[f"{c}|{k}"]) for k in ("mean", "median", "max")} for c in columns}


def _score_stats(frame: pl.LazyFrame, columns: list[str]) -> dict:
    out = {}
    for c in columns:
        summary = (
            frame.select(mean=pl.col(c).mean(), nulls=pl.col(c).null_count(), n=pl.len())
            .collect()
            .row(0, named=True)
        )
        counts = (
            frame.select(pl.col(c).drop_nulls().round(0).cast(pl.Int64).alias("s"))
            .group_by("s")
            .len()
            .collect()
        )
        hist = dict(counts.iter_rows())
        out[c] = {
            "mean": _round(summary["mean"]),
            "null": summary["nulls"],
            "histogram": {str(s): int(hist.get(s, 0)) for s in range(6)},
        }
    return out


def _round(value):
    return round(float(value), 4) if value is not None else None


def _row_changes(
    old: pl.LazyFrame, new: pl.LazyFrame, keys: list[str], common: list[str], limit: int
) -> dict:
    """Added / removed / changed rows by key; a row hash compares the shared columns."""
    content = [c for c in common if c not in keys]
    hashed = pl.struct(content).hash() if content else pl.lit(0, dtype=pl.UInt64)
    # One pass per side down to (keys, row hash); every comparison then joins these small
    # frames instead of re-reading the text columns.
    old_h, new_h = pl.collect_all([old.select(*keys, _h=hashed), new.select(*keys, _h=hashed)])
    both = old_h.join(new_h, on=keys, how="inner", suffix="_new")
    added = new_h.join(old_h, on=keys, how="anti").select(keys)
    removed = old_h.join(new_h, on=keys, how="anti").select(keys)
    changed = both.filter(pl.col("_h") != pl.col("_h_new")).select(keys)
    result: dict[str, Any] = {
        "added": added.height,
        "removed": removed.height,
        "changed": changed.height,
        "matched": both.height,
    }
    if limit:
        result["examples"] = {
            "added": new.join(added.head(limit).lazy(), on=keys).collect().to_dicts(),
            "removed": old.join(removed.head(limit).lazy(), on=keys).collect().to_dicts(),
            "changed": new.join(changed.head(limit).lazy(), on=keys).collect().to_dicts(),
        }
    return result


def _pairs_stats(old: pl.LazyFrame, new: pl.LazyFrame) -> dict:
    def margins(frame):
        row = frame.select(
            mean=pl.col("margin").mean(),
            median=pl.col("margin").median(),
            min=pl.col("margin").min(),
            max=pl.col("margin").max(),
        ).collect()
        return {k: _round(v) for k, v in row.row(0, named=True).items()}

    shared = (
        old.select("prompt_id", "chosen")
        .join(new.select("prompt_id", "chosen"), on="prompt_id", suffix="_new")
        .select(n=pl.len(), changed=(pl.col("chosen") != pl.col("chosen_new")).sum())
        .collect()
    )
    n, changed = shared.row(0)
    return {
        "margin_before": margins(old),
        "margin_after": margins(new),
        "shared_prompts": int(n),
        "chosen_changed_share": round(changed / n, 4) if n else None,
    }


def diff_frames(old: pl.LazyFrame, new: pl.LazyFrame, schema: str, limit: int = 0) -> dict:
    """The diff report of two artifacts of kind `schema` (module docstring)."""
    old_schema, new_schema = old.collect_schema(), new.collect_schema()
    keys = [k for k in KEYS.get(schema, []) if k in old_schema and k in new_schema]
    common = [c for c in old_schema if c in new_schema and old_schema[c] == new_schema[c]]
    text = [
        c for c in common if new_schema[c] == pl.Utf8 and c not in keys and not c.endswith("_id")
    ]
    scores = [c for c in common if c in SCORE_COLUMNS]
    counts = pl.concat([old.select(n=pl.len()), new.select(n=pl.len())]).collect()["n"]
    report: dict[str, Any] = {
        "kind": schema,
        "keys": keys,
        "schema": _schema_diff(old_schema, new_schema),
        "rows": {"before": int(counts[0]), "after": int(counts[1])},
        "text": {"before": _text_stats(old, text), "after": _text_stats(new, text)},
        "scores": {"before": _score_stats(old, scores), "after": _score_stats(new, scores)},
    }
    if keys:
        report["rows"].update(_row_changes(old, new, keys, common, limit))
    if schema == "pairs" and {"margin", "chosen"} <= set(common):
        report["pairs"] = _pairs_stats(old, new)
    return report


def is_unchanged(report: dict) -> bool:
    """No schema change, same row count, nothing added, removed or changed."""
    schema = report["schema"]
    rows = report["rows"]
    return (
        not schema["added"]
        and not schema["removed"]
        and not schema["type_changed"]
        and rows["before"] == rows["after"]
        and not any(rows.get(k) for k in ("added", "removed", "changed"))
    )


def format_report(report: dict, before: str, after: str) -> str:
    """A plain-text table of a diff report."""
    lines = [f"{report['kind']}: {before} -> {after}"]
    schema = report["schema"]
    if schema["added"] or schema["removed"] or schema["type_changed"]:
        lines.append(
            f"  schema: +{schema['added']} -{schema['removed']} "
            f"changed types {schema['type_changed']}"
        )
    else:
        lines.append("  schema: same")
    rows = report["rows"]
    line = f"  rows: {rows['before']} -> {rows['after']}"
    if "added" in rows:
        line += (
            f"   (by {', '.join(report['keys'])}: +{rows['added']} added, "
            f"-{rows['removed']} removed, ~{rows['changed']} changed)"
        )
    lines.append(line)
    for column, stats in report["text"]["after"].items():
        old = report["text"]["before"][column]
        lines.append(
            f"  {column} length: mean {old['mean']} -> {stats['mean']}, "
            f"median {old['median']} -> {stats['median']}"
        )
    for column, stats in report["scores"]["after"].items():
        old = report["scores"]["before"][column]
        hist_old = " ".join(f"{k}:{v}" for k, v in old["histogram"].items())
        hist_new = " ".join(f"{k}:{v}" for k, v in stats["histogram"].items())
        lines.append(
            f"  {column}: mean {old['mean']} -> {stats['mean']}; "
            f"histogram [{hist_old}] -> [{hist_new}]"
        )
    if "pairs" in report:
        p = report["pairs"]
        lines.append(
            f"  margin: mean {p['margin_before']['mean']} -> {p['margin_after']['mean']}"
            f"; chosen answer changed for {p['chosen_changed_share']} of "
            f"{p['shared_prompts']} shared prompts"
        )
    for what, examples in report["rows"].get("examples", {}).items():
        for example in examples:
            shown = {
                k: (v[:60] + "…" if isinstance(v, str) and len(v) > 60 else v)
                for k, v in example.items()
            }
            lines.append(f"  {what}: {shown}")
    if is_unchanged(report):
        lines.append("  no change")
    return "\n".join(lines)
