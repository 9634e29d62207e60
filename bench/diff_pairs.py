"""Benchmark: `srlm diff` on two pairs artifacts of 1,000,000 rows each.

    .venv/bin/python bench/diff_pairs.py --rows 1000000

Builds two synthetic pairs artifacts in a temporary folder (half the prompts shared, a tenth
of the shared ones with a new chosen answer), then times the diff and reports peak RSS. The
diff scans the parquet files lazily; no row becomes a Python object.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from srlm.core.artifacts import write_artifact


def synthetic_pairs(rows: int, offset: int, changed_every: int) -> pl.DataFrame:
    ids = pl.int_range(offset, offset + rows, eager=True)
    words = {0: "alpha beta gamma", 1: "delta epsilon", 2: "zeta eta theta iota", 3: "kappa"}
    return pl.DataFrame({"n": ids}).with_columns(
        prompt_id=pl.format("p{}", pl.col("n")),
        prompt=pl.format("Explain topic {} in detail please", pl.col("n")),
        chosen=pl.when(pl.col("n") % changed_every == 0)
        .then(pl.format("a revised answer {}", pl.col("n")))
        .otherwise(pl.format("a good answer about {} with {}", pl.col("n"),
                             (pl.col("n") % 4).replace_strict(words, return_dtype=pl.Utf8))),
        rejected=pl.format("a weak answer {}", pl.col("n")),
        chosen_score=(pl.col("n") % 3 + 3).cast(pl.Float64),
        rejected_score=(pl.col("n") % 3).cast(pl.Float64),
    ).with_columns(margin=pl.col("chosen_score") - pl.col("rejected_score")).drop("n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = synthetic_pairs(args.rows, 0, changed_every=10**9)
        new = synthetic_pairs(args.rows, args.rows // 2, changed_every=10)
        write_artifact(old, Path(tmp) / "old", "pairs", "a", rows_per_shard=250_000)
        write_artifact(new, Path(tmp) / "new", "pairs", "b", rows_per_shard=250_000)
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*.parquet"))
        in_memory = old.estimated_size() + new.estimated_size()
        del old, new
        # The diff runs as the CLI does, in its own process, so its peak memory is its own.
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "srlm.cli", "diff", str(Path(tmp) / "old"),
             str(Path(tmp) / "new"), "--json"], capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    report = json.loads(result.stdout)
    print(f"rows {args.rows:,} per side; parquet {size / 2**20:.0f} MiB on disk, "
          f"{in_memory / 2**20:.0f} MiB as polars frames")
    print(f"srlm diff: {seconds:.2f} s wall (process start included); rows {report['rows']}; "
          f"chosen changed share {report['pairs']['chosen_changed_share']}")
    print(f"diff process peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
