"""A model folder's identity, recorded once by the stage that writes it: `_model_manifest.json`.

    python -m srlm.core.model_identity DIR    # record a folder srlm did not write (reads it once)

Stages fingerprint the models they use (`srlm.core.fingerprints.input_hash`); reading every
byte of a model for that costs 0.5 GB per stage for SmolLM2 and 140 GB for a 70B model. So the
stages that write a model folder (`base`, `sft`, `dpo`) write it with `model_directory`, which
adds the record last, inside the staging folder, before the folder is swapped in: a folder
without a record is unfinished, not ours, or older than records. The record lists every file
(its relative path, size and sha256) and one hash over them, `sha256`: the very value that
reading the whole folder gives (`folder_hash`), so a record changes no fingerprint.

`model_hash(folder)` trusts the record only after a cheap check that the folder's file names
and sizes are the ones recorded (no byte of the weights is read). What it does otherwise:
- no record (a user's own Hugging Face folder, a hub snapshot, an older build): the folder is
  hashed the old way, every byte, with one warning line saying how to record it; nothing breaks;
- a record that does not match the folder (a file added, removed or resized; an unreadable or
  inconsistent record): the same full hash and a warning naming the first difference. Not an
  error: the full hash is the folder's true identity, so the fingerprint stays right, and a user
  who edits a model folder on purpose (a new chat template) is not blocked; the warning says the
  record is stale and how to renew it. Same-size edits in place are not detected (mtimes are
  not checked: `dvc checkout` and copies change them, and a check that always fails would read
  the weights every time); `dvc status` is the guard against those.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from srlm.core.artifacts import atomic_directory, library_versions
from srlm.core.bounded_read import METADATA_LIMIT, open_regular, read_text
from srlm.core.errors import SrlmError
from srlm.core.locks import OutputLock
from srlm.core.text import parse_json

log = logging.getLogger(__name__)

MODEL_MANIFEST = "_model_manifest.json"
RECORD_VERSION = 1
_SHA256_LENGTH = 64


def hash_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes. Any size (model weights), but a regular file: a FIFO or a
    device among a stage's inputs is one error, not a hang or a hash that never ends."""
    digest = hashlib.sha256()
    with open_regular(path, "file to hash", None) as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def folder_files(folder: Path) -> dict[str, Path]:
    """Every file under `folder` but its record, by relative POSIX path, in hashing order
    (path components compared one by one, as sorting `Path`s does)."""
    files = (p for p in folder.rglob("*") if p.is_file())
    relative = {p.relative_to(folder).as_posix(): p for p in files}
    relative.pop(MODEL_MANIFEST, None)
    return {name: relative[name] for name in sorted(relative, key=lambda n: n.split("/"))}


def combined_hash(files: dict[str, dict]) -> str:
    """One sha256 over (relative path, file sha256) pairs in hashing order: the folder hash."""
    digest = hashlib.sha256()
    for name in sorted(files, key=lambda n: n.split("/")):
        digest.update(name.encode())
        digest.update(files[name]["sha256"].encode())
    return digest.hexdigest()


def file_entries(folder: str | Path) -> dict[str, dict]:
    """`{relative path: {"bytes", "sha256"}}` of every file but the record: reads every byte."""
    return {
        name: {"bytes": path.stat().st_size, "sha256": hash_file(path)}
        for name, path in folder_files(Path(folder)).items()
    }


def folder_hash(folder: str | Path) -> str:
    """The folder's content hash, computed by reading every file (what a record stores)."""
    return combined_hash(file_entries(folder))


def write_record(folder: str | Path, written_by: str) -> dict:
    """Hash every file of `folder` and write its record there, atomically (a temporary file
    renamed over the name); returns the record."""
    folder = Path(folder)
    files = file_entries(folder)
    # No timestamps: the same weights must give the same record bytes (DVC hashes the folder).
    record = {
        "kind": "model",
        "record_version": RECORD_VERSION,
        "sha256": combined_hash(files),
        "bytes": sum(entry["bytes"] for entry in files.values()),
        "files": files,
        "written_by": written_by,
        "versions": library_versions(),
    }
    handle = tempfile.NamedTemporaryFile(
        "w", dir=folder, prefix=f".{MODEL_MANIFEST}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            handle.write(json.dumps(record, indent=2, sort_keys=True) + "\n")
        os.replace(handle.name, folder / MODEL_MANIFEST)
    finally:
        if os.path.exists(handle.name):
            os.unlink(handle.name)
    return record


@contextmanager
def model_directory(out: str | Path, written_by: str) -> Iterator[Path]:
    """A staging folder to write the model `out` into (as `atomic_directory`); on success its
    record is written last and the folder swapped in, so `out` never exists without it."""
    with atomic_directory(out) as tmp:
        yield tmp
        write_record(tmp, written_by)


def _record_problem(folder: Path, record: object) -> str | None:
    """Why `record` cannot name `folder`'s contents, or None when names and sizes agree."""
    if not isinstance(record, dict) or not isinstance(record.get("files"), dict):
        return f"{MODEL_MANIFEST} has no 'files' object"
    files = record["files"]
    for name, entry in files.items():
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("bytes"), int)
            and isinstance(entry.get("sha256"), str)
            and len(entry["sha256"]) == _SHA256_LENGTH
        ):
            return f"{MODEL_MANIFEST}: entry '{name}' needs 'bytes' and a 'sha256'"
    if record.get("sha256") != combined_hash(files):
        return f"{MODEL_MANIFEST}: 'sha256' does not match its files' hashes"
    on_disk = folder_files(folder)
    for name in sorted(set(files) | set(on_disk)):
        if name not in on_disk:
            return f"{name} is recorded but missing"
        if name not in files:
            return f"{name} is not in {MODEL_MANIFEST}"
        size = on_disk[name].stat().st_size
        if size != files[name]["bytes"]:
            return f"{name} has {size} bytes, {MODEL_MANIFEST} says {files[name]['bytes']}"
    return None


def recorded_hash(folder: str | Path) -> tuple[str | None, str]:
    """(the folder's recorded hash, "") when its record matches the folder's file names and
    sizes, else (None, why not). Reads the record and stats the files, never their bytes."""
    path = Path(folder) / MODEL_MANIFEST
    if not path.is_file():
        return None, f"no {MODEL_MANIFEST}"
    try:
        record = parse_json(read_text(path, MODEL_MANIFEST, METADATA_LIMIT), str(path))
    except (OSError, SrlmError, json.JSONDecodeError) as err:
        return None, f"unreadable {MODEL_MANIFEST} ({type(err).__name__})"
    problem = _record_problem(Path(folder), record)
    return (None, problem) if problem else (record["sha256"], "")


def model_hash(folder: str | Path) -> str:
    """The content hash of model folder `folder`: from its record in constant time, or, with
    no record that matches the folder, by reading every file (one warning line on stderr)."""
    recorded, problem = recorded_hash(folder)
    if recorded is not None:
        return recorded
    files = folder_files(Path(folder))
    gib = sum(p.stat().st_size for p in files.values()) / 2**30
    log.warning(
        "%s: %s; reading all %.2f GiB of it to fingerprint it (record it once with "
        "`python -m srlm.core.model_identity %s`, or rebuild it)",
        folder,
        problem,
        gib,
        folder,
    )
    return combined_hash({name: {"sha256": hash_file(path)} for name, path in files.items()})


def main(argv: list[str] | None = None) -> None:
    """`python -m srlm.core.model_identity DIR...`: write the record of each model folder."""
    folders = sys.argv[1:] if argv is None else argv
    if not folders:
        raise SrlmError("usage: python -m srlm.core.model_identity MODEL_DIR [MODEL_DIR ...]")
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise SrlmError(f"{folder}: not a model directory")
        with OutputLock(folder):  # no stage may be replacing it meanwhile
            record = write_record(folder, "python -m srlm.core.model_identity")
        print(
            f"{folder / MODEL_MANIFEST}: {len(record['files'])} files, "
            f"{record['bytes'] / 2**30:.2f} GiB, sha256 {record['sha256'][:16]}"
        )


if __name__ == "__main__":
    from srlm.core.console import run_stage

    run_stage(main)
