"""Content hashes: of files, of stage inputs, of code, and the fingerprint of a build.

A fingerprint (params + input contents + identity) goes into every artifact's manifest; the
code hash stamps resumable shards only, so that a code edit that leaves rows unchanged leaves
an artifact's bytes unchanged too.
"""

from __future__ import annotations

import ast
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


PACKAGE = Path(__file__).resolve().parents[1]


def _docstring_only(tree: ast.Module) -> bool:
    body = tree.body
    return all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body)


def code_files(script: str | Path) -> list[Path]:
    """The code a script runs: itself, every srlm module it imports (transitively, lazy imports
    inside functions included, with their packages' `__init__.py` unless it holds only a
    docstring) and the prompt files those
    modules name. Resume stamps hash exactly these; tests check dvc.yaml lists them."""
    seen: set[Path] = set()
    todo = [Path(script).resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        if path.suffix != ".py":
            seen.add(path)
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if path.name == "__init__.py" and _docstring_only(tree):
            continue  # a package that only documents itself runs no code
        seen.add(path)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                prompt = PACKAGE / "prompts" / node.value
                if node.value.endswith(".txt") and prompt.is_file():
                    todo.append(prompt)
            for name in names:
                parts = name.split(".")
                if parts[0] != "srlm":
                    continue
                for depth in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b too
                    module = PACKAGE.parent.joinpath(*parts[:depth])
                    for candidate in (module.with_suffix(".py"), module / "__init__.py"):
                        if candidate.is_file():
                            todo.append(candidate)
    return sorted(seen)


def code_hash(script: str | Path | None = None) -> str:
    """sha256 over the code `script` runs (`code_files`), or over all of srlm's code and prompt
    files when no script is named: a change to that code is a new build."""
    files = (code_files(script) if script is not None else
             sorted(p for p in PACKAGE.rglob("*") if p.suffix in (".py", ".txt")))
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
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
