"""Artifacts on disk: a directory of parquet shards plus `_manifest.json`.

- `write_artifact` validates, writes everything into a temporary sibling directory and swaps it
  in with renames, so a crash never leaves a half-written artifact and never loses the old one;
  `write_artifacts` does the same for a set (a stage's several outputs, and whole files such
  as its metrics JSON): all replaced, or none.
- Every writer holds the output's lock (`srlm.core.locks`): a second writer fails at once.
- Resumable shard-by-shard writing lives in `srlm.runtime.shards`.
- `read_artifact` checks the manifest's schema name and validates the rows.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

import polars as pl

from srlm import __version__
from srlm.core.atomic import staging, swap_in
from srlm.core.bounded_read import METADATA_LIMIT, read_text
from srlm.core.errors import SrlmError
from srlm.core.locks import OutputLock
from srlm.core.schemas import SCHEMA_VERSION, validate
from srlm.core.text import parse_json

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


@contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Lock `target` and yield a fresh temporary sibling folder; on success it replaces
    `target` by renames.

    On any error the temporary folder is removed and an existing `target` is untouched.
    """
    target = Path(target)
    with OutputLock(target), staging(target) as tmp:
        tmp.mkdir()
        yield tmp
        swap_in([(tmp, target)])


def metrics_text(metrics: dict) -> str:
    """A DVC metrics JSON file's text (sorted keys, so diffs between runs stay small)."""
    return json.dumps(metrics, indent=2, sort_keys=True) + "\n"


def write_metrics(path: str | Path, metrics: dict) -> None:
    """Write a DVC metrics JSON file (by itself; `write_artifacts` swaps one in with a set)."""
    _write_text(path, metrics_text(metrics), "metrics")


def write_table(path: str | Path, frame: pl.DataFrame) -> None:
    """Write a small table beside the metrics as CSV (git-tracked, e.g. for `dvc plots`)."""
    _write_text(path, frame.write_csv(), "table")


def _write_text(path: str | Path, text: str, what: str, name: str | Path | None = None) -> None:
    """Write `text` to `path`; an error names `name` (the target of a staged path)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as err:  # a full disk reports no file name of its own
        why = err.strerror or err
        raise ArtifactError(f"{name or path}: cannot write the {what} ({why})") from None


class PendingArtifact(NamedTuple):
    """One artifact of a set given to `write_artifacts`."""

    frame: pl.DataFrame
    directory: str | Path
    schema: str
    fingerprint: str
    meta: dict | None = None
    rows_per_shard: int = 100_000


def _write_parts(artifact: PendingArtifact, out: Path) -> None:
    out.mkdir()
    frame, size = artifact.frame, artifact.rows_per_shard
    for index in range(max(1, -(-frame.height // size))):
        frame.slice(index * size, size).write_parquet(out / f"part-{index:05d}.parquet")
    manifest = manifest_for(frame, artifact.schema, artifact.fingerprint, artifact.meta)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def write_artifacts(
    artifacts: Sequence[PendingArtifact], files: Mapping[str | Path, str] | None = None
) -> list[Path]:
    """Validate and write artifacts and text `files` ({path: text}: a stage's metrics), then
    swap them all in (files like folders): all replaced, or none, also under `kill -9`.

    Every frame is validated before anything is written, every output is written to its
    own temporary sibling before any is replaced, and if a replacement fails the ones already
    replaced get their old versions back.
    """
    targets = [Path(a.directory) for a in artifacts]
    texts = {Path(path): text for path, text in (files or {}).items()}
    if len({t.absolute() for t in [*targets, *texts]}) != len(targets) + len(texts):
        raise ArtifactError(f"{', '.join(map(str, [*targets, *texts]))}: the same output twice")
    for artifact, target in zip(artifacts, targets, strict=True):
        validate(artifact.frame, artifact.schema, where=str(target))
    devices = {path: texts.pop(path) for path in list(texts) if not _replaceable(path)}
    every = [*targets, *texts]
    with ExitStack() as stack:
        for target in every:
            stack.enter_context(OutputLock(target))
        staged = [stack.enter_context(staging(target)) for target in every]
        for artifact, out in zip(artifacts, staged, strict=False):
            _write_parts(artifact, out)
        for (path, text), out in zip(texts.items(), staged[len(targets) :], strict=True):
            _write_text(out, text, "file", name=path)
        swap_in(list(zip(staged, every, strict=True)))
    for path, text in devices.items():
        _write_text(path, text, "file")
    return targets


def _replaceable(path: Path) -> bool:
    """Whether file target `path` is swapped in: nothing is there, or a regular file (a link
    to one is replaced, not written through). A device or a pipe (`/dev/null`) is written
    into after the swap, as before: a rename would replace the device itself."""
    try:
        mode = os.stat(path).st_mode
    except OSError:  # nothing there (or no way to look): the swap says what is wrong
        return True
    if stat.S_ISDIR(mode):  # the swap would replace the folder, and so remove it
        raise ArtifactError(f"{path}: is a folder, not a file; move it away")
    return stat.S_ISREG(mode)


def write_artifact(
    frame: pl.DataFrame,
    directory: str | Path,
    schema: str,
    fingerprint: str,
    meta: dict | None = None,
    rows_per_shard: int = 100_000,
) -> Path:
    """Validate `frame` against `schema` and write it as an artifact directory, atomically."""
    return write_artifacts(
        [PendingArtifact(frame, directory, schema, fingerprint, meta, rows_per_shard)]
    )[0]


def read_manifest(directory: str | Path) -> dict:
    """The manifest of an artifact; `ArtifactError` when it is missing or unfinished."""
    directory = Path(directory)
    if not directory.exists():
        raise ArtifactError(f"{directory}: no such artifact (build it with `dvc repro`)")
    path = directory / MANIFEST
    if not path.exists():
        raise ArtifactError(f"{directory}: not a finished artifact (no {MANIFEST})")
    text = read_text(path, "manifest", METADATA_LIMIT, ArtifactError)  # not a FIFO, bounded
    try:
        manifest = parse_json(text, f"{path}: unreadable manifest")  # nesting, surrogates
    except json.JSONDecodeError as err:
        raise ArtifactError(f"{path}: unreadable manifest: {err}") from None
    if not isinstance(manifest, dict):
        raise ArtifactError(
            f"{path}: the manifest must be a JSON object, got {type(manifest).__name__}"
        )
    for key, kind in (("schema", str), ("rows", int), ("fingerprint", str)):
        value = manifest.get(key)
        if (
            not isinstance(value, kind)
            or isinstance(value, bool)
            or value == ""
            or (isinstance(value, int) and value < 0)
        ):
            raise ArtifactError(
                f"{path}: manifest key '{key}' is missing or invalid "
                f"(got {value!r}); rebuild the artifact with `dvc repro`"
            )
    return manifest


_READ_ERRORS = (pl.exceptions.PolarsError, OSError)


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def bad_shard(shards: list[Path], columns: list[str] | None = None) -> ArtifactError | None:
    """The error naming the first shard whose footer cannot be read or whose columns differ
    from `columns` (default: the first shard's); None when every shard looks sound."""
    for shard in shards:
        try:
            names = list(pl.read_parquet_schema(shard))
        except _READ_ERRORS as err:
            return ArtifactError(
                f"{shard}: unreadable parquet shard ({_first_line(err)}); "
                "restore it with `dvc checkout` or rebuild it with `dvc repro`"
            )
        columns = names if columns is None else columns
        if set(names) != set(columns):  # a manifest lists its columns sorted
            return ArtifactError(
                f"{shard}: columns {names} differ from the artifact's "
                f"{columns}; rebuild it with `dvc repro`"
            )
    return None


def _unreadable(directory: Path, shards: list[Path], err: Exception) -> ArtifactError:
    return bad_shard(shards) or ArtifactError(
        f"{directory}: unreadable parquet data ({_first_line(err)}); rebuild it with `dvc repro`"
    )


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
    try:
        frame = pl.read_parquet(shards)
    except _READ_ERRORS as err:
        raise _unreadable(directory, shards, err) from None
    if frame.height != manifest["rows"]:
        raise ArtifactError(
            f"{directory}: {frame.height} rows on disk, manifest says {manifest['rows']}"
        )
    return validate(frame, manifest["schema"], where=str(directory))


def scan_artifact(directory: str | Path) -> tuple[pl.LazyFrame, dict]:
    """A lazy scan of a finished artifact and its manifest (shards' footers and row count
    checked, no row validation: for large read-only analyses such as `srlm diff`; use
    `read_artifact` to validate)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    shards = sorted(directory.glob("part-*.parquet"))
    if not shards:
        raise ArtifactError(f"{directory}: manifest present but no part-*.parquet shards")
    # The scan is lazy: check every shard's footer and columns now, so a damaged or
    # mismatched shard is named here rather than failing deep inside a query.
    columns = manifest.get("columns")
    if error := bad_shard(shards, list(columns) if isinstance(columns, dict) else None):
        raise error
    scan = pl.scan_parquet(shards)
    # As `read_artifact` does: a deleted or extra shard must not pass for the artifact (the
    # footers' row counts, no data read).
    try:
        rows = scan.select(pl.len()).collect().item()
    except _READ_ERRORS as err:
        raise _unreadable(directory, shards, err) from None
    if rows != manifest["rows"]:
        raise ArtifactError(
            f"{directory}: {rows} rows on disk, manifest says "
            f"{manifest['rows']}; restore it with `dvc checkout` or rebuild it "
            "with `dvc repro`"
        )
    return scan, manifest
