"""Content hashes: of files, of stage inputs, of code, and the fingerprint of a build.

A fingerprint (params + input contents + identity) goes into every artifact's manifest; the
code hash stamps resumable shards only, so that a code edit that leaves rows unchanged leaves
an artifact's bytes unchanged too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from srlm import __version__
from srlm.core.artifacts import MANIFEST


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
    package = Path(__file__).resolve().parents[1]
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
