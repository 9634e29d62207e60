"""Which build an artifact belongs to, and the checks that a stage's inputs belong together.

A loop stage records in its output's manifest, under `lineage`:
- `iteration`: the iteration that scoped it (`m2`; every seed and candidate id depends on it);
- `inputs`: `{flag: fingerprint}` of the artifacts it was built from (`candidates`, ...);
- any setting that decides what the artifact is (the anchors' `pairs_mode`).
It is deterministic (no paths, no times), so a rebuild from the same inputs gives the same
bytes. A stage that reads artifacts which must come from one build (pairs: candidates, scores
and anchors; judgments: candidates of its iteration; anchors: prompts, candidates, scores)
compares them before doing anything: m3's scores with m2's candidates, or anchors built in
another `pairs.mode`, is one line naming both files and the field that differs, instead of
0 pairs and exit 0.

An artifact written before lineage was recorded has no `lineage`: there is nothing to compare
and no error (the row-level check `same_candidates` still runs on the data itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from srlm.core.artifacts import read_manifest
from srlm.core.errors import SrlmError

LINEAGE = "lineage"
REBUILD = "rebuild with `dvc repro`, or give inputs of one build"


class LineageError(SrlmError):
    """Inputs of different builds (iterations, modes, upstream artifacts)."""


def lineage_meta(
    iteration: str | None = None, inputs: Mapping[str, str | Path] | None = None, **settings: Any
) -> dict:
    """The manifest entry of an artifact built for `iteration` from the artifacts `inputs`
    (flag -> folder; recorded by fingerprint) with `settings`: `{"lineage": {...}}`, for
    `write_artifact`'s (or `run_sharded`'s) `meta`."""
    record: dict[str, Any] = {}
    if iteration is not None:
        record["iteration"] = iteration
    if inputs:
        record["inputs"] = {
            name: read_manifest(path)["fingerprint"] for name, path in inputs.items()
        }
    return {LINEAGE: {**record, **settings}}


def lineage(manifest: Mapping) -> dict:
    """The `lineage` entry of a manifest ({} when it has none, or a malformed one)."""
    record = manifest.get(LINEAGE)
    return record if isinstance(record, dict) else {}


def expect(path: str | Path, field: str, wanted: Any, source: str) -> None:
    """Artifact `path`'s lineage `field` is `wanted` (what `source`, e.g. the stage's
    `--iteration` or the params file, says), when recorded."""
    found = lineage(read_manifest(path)).get(field)
    if found is not None and found != wanted:
        raise LineageError(
            f"{path}: built for {field} {found!r} (manifest lineage "
            f"'{field}'), but {source} says {wanted!r}; {REBUILD}"
        )


def same(field: str, first: str | Path, second: str | Path) -> None:
    """Artifacts `first` and `second` have the same lineage `field`, where both record it."""
    a = lineage(read_manifest(first)).get(field)
    b = lineage(read_manifest(second)).get(field)
    if a is not None and b is not None and a != b:
        raise LineageError(
            f"{first} and {second} are of different builds: manifest lineage "
            f"'{field}' is {a!r} and {b!r}; {REBUILD}"
        )


def built_from(child: str | Path, name: str, parent: str | Path) -> None:
    """Artifact `child` was built from `parent` (its input `name`), where it records that."""
    recorded = lineage(read_manifest(child)).get("inputs", {})
    found = recorded.get(name) if isinstance(recorded, dict) else None
    actual = read_manifest(parent)["fingerprint"]
    if found is not None and found != actual:
        raise LineageError(
            f"{child} was built from other {name} than {parent}: manifest "
            f"lineage 'inputs.{name}' is {found}, {parent} has fingerprint "
            f"{actual}; {REBUILD}"
        )


def same_candidates(
    scores: pl.DataFrame,
    candidates: pl.DataFrame,
    scores_path: str | Path,
    candidates_path: str | Path,
) -> None:
    """Every candidate has exactly one score row and every score row a candidate (the
    judgments stage scores each candidate once): scores of another build (another
    iteration's candidate ids) would otherwise join to nothing and give 0 pairs."""
    ids = candidates.select("candidate_id")
    foreign = scores.select("candidate_id").join(ids, on="candidate_id", how="anti")
    missing = ids.join(scores.select("candidate_id"), on="candidate_id", how="anti")
    for rows, what in (
        (foreign, f"score {{n}} candidate id(s) that {candidates_path} does not have"),
        (missing, f"no score for {{n}} of the candidate ids of {candidates_path}"),
    ):
        if rows.height:
            first = rows["candidate_id"][0]
            raise LineageError(
                f"{scores_path}: {what.format(n=rows.height)} (e.g. "
                f"'{first}', column 'candidate_id'); {REBUILD}"
            )
