"""Artifacts on disk: a directory of parquet shards plus `_manifest.json`.

- `write_artifact` validates, writes everything into a temporary sibling directory and swaps it
  in with renames, so a crash never leaves a half-written artifact and never loses the old one.
- Resumable shard-by-shard writing lives in `srlm.core.shards`.
- `read_artifact` checks the manifest's schema name and validates the rows.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import polars as pl

from srlm import __version__
from srlm.core.errors import SrlmError
from srlm.core.schemas import SCHEMA_VERSION, validate

log = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
_VERSIONED = ("polars", "pyarrow", "pandera", "torch", "transformers", "trl", "datasets", "dvc")


class ArtifactError(SrlmError):
    """A missing, unfinished or mismatched artifact; the message names the path."""


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries an artifact may depend on (for the manifest)."""
    versions = {"srlm": __version__}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def manifest_for(frame: pl.DataFrame, schema: str, fp: str, meta: dict | None) -> dict:
    # No timestamps: the same inputs must give the same bytes, or DVC would rerun every
    # downstream stage after a no-op rebuild. Timings go to the stage's metrics instead.
    return {
        "schema": schema,
        "schema_version": SCHEMA_VERSION,
        "rows": frame.height,
        "columns": {name: str(dtype) for name, dtype in frame.schema.items()},
        "fingerprint": fp,
        "versions": library_versions(),
        **(meta or {}),
    }


def _swap_in(tmp: Path, target: Path) -> None:
    """Replace `target` by `tmp` with renames: the old artifact survives any failure before."""
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    if old.exists():
        shutil.rmtree(old)


@contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of `target`; on success it replaces `target` by renames.

    On any error the temporary directory is removed and an existing `target` is untouched.
    """
    target = Path(target)
    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        _swap_in(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_metrics(path: str | Path, metrics: dict) -> None:
    """Write a DVC metrics JSON file (sorted keys, so diffs between runs stay small)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")


def write_artifact(
    frame: pl.DataFrame,
    directory: str | Path,
    schema: str,
    fingerprint: str,
    meta: dict | None = None,
    rows_per_shard: int = 100_000,
) -> Path:
    """Validate `frame` against `schema` and write it as an artifact directory, atomically."""
    directory = Path(directory)
    validate(frame, schema, where=str(directory))
    with atomic_directory(directory) as tmp:
        n_shards = max(1, -(-frame.height // rows_per_shard))
        for index in range(n_shards):
            part = frame.slice(index * rows_per_shard, rows_per_shard)
            part.write_parquet(tmp / f"part-{index:05d}.parquet")
        manifest = manifest_for(frame, schema, fingerprint, meta)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return directory


def read_manifest(directory: str | Path) -> dict:
    """The manifest of an artifact; `ArtifactError` when it is missing or unfinished."""
    directory = Path(directory)
    if not directory.exists():
        raise ArtifactError(f"{directory}: no such artifact (build it with `dvc repro`)")
    path = directory / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{directory}: not a finished artifact (no {MANIFEST})")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ArtifactError(f"{path}: unreadable manifest: {err}") from None


def read_artifact(directory: str | Path, schema: str | None = None) -> pl.DataFrame:
    """Read an artifact, check its schema name (when given) and validate every row."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    if schema is not None and manifest["schema"] != schema:
        raise ArtifactError(
            f"{directory}: is a '{manifest['schema']}' artifact, expected '{schema}'"
        )
    shards = sorted(directory.glob("part-*.parquet"))
    if not shards:
        raise ArtifactError(f"{directory}: manifest present but no part-*.parquet shards")
    frame = pl.read_parquet(shards)
    if frame.height != manifest["rows"]:
        raise ArtifactError(
            f"{directory}: {frame.height} rows on disk, manifest says {manifest['rows']}"
        )
    return validate(frame, manifest["schema"], where=str(directory))


def scan_artifact(directory: str | Path) -> tuple[pl.LazyFrame, dict]:
    """A lazy scan of a finished artifact and its manifest (no row validation: for large
    read-only analyses such as `srlm diff`; use `read_artifact` to validate)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    shards = sorted(directory.glob("part-*.parquet"))
    if not shards:
        raise ArtifactError(f"{directory}: manifest present but no part-*.parquet shards")
    return pl.scan_parquet(shards), manifest
