"""Benchmark: `srlm diff` and `srlm validate` on pairs artifacts of 1,000,000 rows.

    python bench/diff_pairs.py --rows 1000000 --repeats 3

Builds two synthetic pairs artifacts in a temporary folder (half the prompts shared, a tenth
of the shared ones with a new chosen answer), then runs the CLI as a user does, each run in its
own process (process start included): `srlm diff old new --json` and `srlm validate new`
(schema, ids, the pairs' own rules). Reported: median and spread of the wall time and each
process's own peak memory. Neither command turns rows into Python objects. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import polars as pl
from measure import run_child, summary

from srlm.core.artifacts import write_artifact


def synthetic_pairs(rows: int, offset: int, changed_every: int) -> pl.DataFrame:
    ids = pl.int_range(offset, offset + rows, eager=True)
    words = {0: "alpha beta gamma", 1: "delta epsilon", 2: "zeta eta theta iota", 3: "kappa"}
    return (
        pl.DataFrame({"n": ids})
        .with_columns(
            prompt_id=pl.format("p{}", pl.col("n")),
            prompt=pl.format("Explain topic {} in detail please", pl.col("n")),
            chosen=pl.when(pl.col("n") % changed_every == 0)
            .then(pl.format("a revised answer {}", pl.col("n")))
            .otherwise(
                pl.format(
                    "a good answer about {} with {}",
                    pl.col("n"),
                    (pl.col("n") % 4).replace_strict(words, return_dtype=pl.Utf8),
                )
            ),
            rejected=pl.format("a weak answer {}", pl.col("n")),
            chosen_score=(pl.col("n") % 3 + 3).cast(pl.Float64),
            rejected_score=(pl.col("n") % 3).cast(pl.Float64),
        )
        .with_columns(margin=pl.col("chosen_score") - pl.col("rejected_score"))
        .drop("n")
    )


def timed(command: list[str], repeats: int) -> tuple[dict, dict, str]:
    """(wall-time summary, peak-memory summary, last stdout) of `srlm <command>` runs."""
    runs = [run_child(["-m", "srlm.cli", *command], keep_stdout=True) for _ in range(repeats)]
    return (
        summary([r["wall_s"] for r in runs]),
        summary([r["peak_rss_mib"] for r in runs]),
        runs[-1]["stdout"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old_dir, new_dir = Path(tmp) / "old", Path(tmp) / "new"
        old = synthetic_pairs(args.rows, 0, changed_every=10**9)
        new = synthetic_pairs(args.rows, args.rows // 2, changed_every=10)
        write_artifact(old, old_dir, "pairs", "a", rows_per_shard=250_000)
        write_artifact(new, new_dir, "pairs", "b", rows_per_shard=250_000)
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*.parquet"))
        in_memory = old.estimated_size() + new.estimated_size()
        del old, new
        diff_s, diff_mib, out = timed(["diff", str(old_dir), str(new_dir), "--json"], args.repeats)
        validate_s, validate_mib, _ = timed(["validate", str(new_dir)], args.repeats)
    diff = json.loads(out)
    result = {
        "rows": args.rows,
        "parquet_mib": round(size / 2**20),
        "frames_mib": round(in_memory / 2**20),
        "diff_s": diff_s,
        "diff_peak_mib": diff_mib,
        "validate_s": validate_s,
        "validate_peak_mib": validate_mib,
        "diff_rows": diff["rows"],
        "chosen_changed_share": diff["pairs"]["chosen_changed_share"],
    }
    print(
        f"{args.rows:,} rows a side: parquet {result['parquet_mib']} MiB, "
        f"frames {result['frames_mib']} MiB"
    )
    print(
        f"srlm diff: {diff_s['median']} s (median of {args.repeats}), peak "
        f"{diff_mib['max']} MiB; srlm validate: {validate_s['median']} s, peak "
        f"{validate_mib['max']} MiB"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
