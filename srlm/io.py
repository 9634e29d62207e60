"""Artifacts on disk: a directory of parquet shards plus `_manifest.json`.

- `write_artifact` validates, writes everything into a temporary sibling directory and swaps it
  in with renames, so a crash never leaves a half-written artifact and never loses the old one.
- `ShardWriter` is for long stages: each shard is written to `*.tmp` then renamed; on restart,
  shards written under the same fingerprint and the same srlm code are kept, others are wiped
  (a params or code change must never mix stale rows in); `finish` validates the whole and
  writes the manifest last.
- `read_artifact` checks the manifest's schema name and validates the rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

from srlm import __version__
from srlm.errors import SrlmError
from srlm.schemas import SCHEMA_VERSION, validate

log = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
SHARD_FINGERPRINT = "_fingerprint"
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


def hash_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def input_hash(path: str | Path) -> str:
    """A content hash for a stage input: an artifact's fingerprint, a file's or a dir's bytes."""
    path = Path(path)
    manifest = path / MANIFEST
    if manifest.is_file():
        return json.loads(manifest.read_text())["fingerprint"]
    if path.is_dir():
        digest = hashlib.sha256()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(file.relative_to(path)).encode())
            digest.update(hash_file(file).encode())
        return digest.hexdigest()
    return hash_file(path)


def code_hash() -> str:
    """sha256 over the srlm package's code and prompt files: a code change is a new build."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for file in sorted(p for p in package.rglob("*") if p.suffix in (".py", ".txt")):
        digest.update(str(file.relative_to(package)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def fingerprint(params: Any, inputs: Iterable[str | Path] = (), **extra: Any) -> str:
    """Hash of params + input contents + extra identity (model id, code version).

    It goes into the manifest, so it leaves code out on purpose: a code change that does not
    change an artifact's rows must not change its bytes, or DVC would rerun everything
    downstream. Resumable shards are stamped with the code too (`ShardWriter`).
    """
    payload = {
        "params": params,
        "inputs": {str(p): input_hash(p) for p in inputs},
        "extra": extra,
        "srlm": __version__,
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _manifest(frame: pl.DataFrame, schema: str, fp: str, meta: dict | None) -> dict:
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
        manifest = _manifest(frame, schema, fingerprint, meta)
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


class ShardWriter:
    """Resumable shard-by-shard writing of one artifact (see the module docstring)."""

    def __init__(self, directory: str | Path, schema: str, fingerprint: str):
        self.directory = Path(directory)
        self.schema = schema
        self.fingerprint = fingerprint
        # Shards of an interrupted run are reused only by the same params, inputs AND code:
        # a fixed parser or prompt file must never be mixed with rows made before the fix.
        self.stamp = f"{fingerprint} {code_hash()}"
        stamp = self.directory / SHARD_FINGERPRINT
        if self.directory.exists():
            previous = stamp.read_text().strip() if stamp.is_file() else None
            if previous != self.stamp:
                log.info("%s: discarding shards from another build", self.directory)
                shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / MANIFEST).unlink(missing_ok=True)  # unfinished from here on
        for leftover in self.directory.glob("*.tmp"):
            leftover.unlink()
        stamp.write_text(self.stamp + "\n")

    def _path(self, index: int) -> Path:
        return self.directory / f"part-{index:05d}.parquet"

    def done(self, index: int) -> bool:
        """Whether shard `index` was already written under this fingerprint."""
        return self._path(index).is_file()

    def write(self, index: int, frame: pl.DataFrame) -> None:
        """Validate and atomically write shard `index`."""
        validate(frame, self.schema, where=f"{self.directory} shard {index}")
        tmp = self._path(index).with_suffix(".tmp")
        frame.write_parquet(tmp)
        tmp.rename(self._path(index))

    def finish(self, n_shards: int, meta: dict | None = None) -> pl.DataFrame:
        """Check all `n_shards` exist, drop extra ones, validate the whole, write the manifest."""
        if n_shards == 0:
            raise ArtifactError(f"{self.directory}: nothing to write (the input has no rows)")
        missing = [i for i in range(n_shards) if not self.done(i)]
        if missing:
            raise ArtifactError(f"{self.directory}: shards {missing[:5]} were never written")
        for extra in self.directory.glob("part-*.parquet"):
            if int(extra.stem.split("-")[1]) >= n_shards:
                extra.unlink()
        frame = pl.read_parquet([self._path(i) for i in range(n_shards)])
        validate(frame, self.schema, where=str(self.directory))
        manifest = _manifest(frame, self.schema, self.fingerprint, meta)
        tmp = self.directory / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        tmp.rename(self.directory / MANIFEST)
        (self.directory / SHARD_FINGERPRINT).unlink(missing_ok=True)
        return frame
