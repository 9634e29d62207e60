"""Content hashes: of files, of stage inputs, of code, and the fingerprint of a build.

What a fingerprint covers, one rule for every stage (`fingerprint`):
- the params that shape the output (not timings, not worker or process counts);
- the content identity of every input, in the order the stage lists them: a dataset by its
  manifest's fingerprint, a model folder by the content hash its writer recorded in
  `_model_manifest.json` (`srlm.core.model_identity`; never by reading the weights again), any
  other file or folder by its bytes; never a path as written (`data/x`, `./data/x` and
  `/abs/data/x` holding the same thing are the same input);
- a `hf://NAME[:split]` input that `datasets.load_dataset` reads from a local folder (NAME is
  one) by that folder's content and the split (`hub_input_hash`);
- identity that is no local file (a hub dataset's name, an endpoint's model) as `extra`;
- the code version: srlm's version number. The code's own hash (`code_hash`) stamps resumable
  shards only, so that a code edit that leaves rows unchanged leaves an artifact's bytes
  unchanged too (else DVC would rerun everything downstream).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from srlm import __version__
from srlm.core.artifacts import MANIFEST
from srlm.core.bounded_read import METADATA_LIMIT, read_text
from srlm.core.errors import SrlmError
from srlm.core.model_identity import combined_hash, hash_file, model_hash

HUB_PREFIX = "hf://"


def hub_dataset(spec: str) -> tuple[str, str]:
    """(name, split) of a `hf://NAME[:split]` input; the split is "train" when none is given."""
    name, _, split = spec.removeprefix(HUB_PREFIX).partition(":")
    return name, split or "train"


def local_dataset(spec: str) -> Path | None:
    """The local folder that `datasets.load_dataset` reads for `hf://NAME[:split]`, or None
    when NAME is a hub name. `datasets` itself reads NAME as a local folder whenever a folder
    of that name exists (relative to the working directory), before it asks the hub."""
    if not spec.startswith(HUB_PREFIX):
        return None
    folder = Path(hub_dataset(spec)[0])
    return folder if folder.is_dir() else None


def hub_input_hash(spec: str) -> str:
    """The content identity of `hf://FOLDER[:split]`: every file `datasets` reads there, and
    the split. Hidden files and folders (`.git`, `.cache`) are left out, as `datasets` leaves
    them out by default. Not `input_hash`'s hash of a folder: a data folder has no model
    record, and the record that hash asks for would be one more file for `datasets` to read.
    Tagged with how it is read, so the same bytes read as a plain file are another input."""
    folder = local_dataset(spec)
    if folder is None:
        raise SrlmError(f"{spec}: a hub dataset counts by its name, it has no local content")
    files = {
        p.relative_to(folder).as_posix(): {"sha256": hash_file(p)}
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }
    identity = {"hf_folder": combined_hash(files), "split": hub_dataset(spec)[1]}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def input_hash(path: str | Path) -> str:
    """The content identity of a stage input: an artifact's fingerprint, a model folder's
    recorded hash (a folder without a valid record is read whole, with a warning), a file's
    bytes, a local `hf://` dataset folder's files (`hub_input_hash`)."""
    if isinstance(path, str) and path.startswith(HUB_PREFIX):  # before Path() folds its "//"
        return hub_input_hash(path)
    path = Path(path)
    manifest = path / MANIFEST
    if manifest.is_file():
        return json.loads(read_text(manifest, "manifest", METADATA_LIMIT))["fingerprint"]
    if path.is_dir():
        return model_hash(path)
    return hash_file(path)


PACKAGE = Path(__file__).resolve().parents[1]


def _docstring_only(tree: ast.Module) -> bool:
    body = tree.body
    return all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body)


# Folders of files a module reads by name: prompt files, the data view's templates and assets.
DATA_DIRS = ("prompts", "tools/view_templates")
DATA_FILE = re.compile(r"[\w-]+(\.[\w-]+)*\.(txt|j2|css|js)")
TEMPLATE_REFERENCE = re.compile(r"{%-?\s*(?:extends|include|import|from)\s+[\"']([^\"']+)[\"']")


def _data_files(name: str) -> list[Path]:
    """The package data files a string constant names (a plain file name, no path)."""
    if not DATA_FILE.fullmatch(name):
        return []
    return [PACKAGE / folder / name for folder in DATA_DIRS if (PACKAGE / folder / name).is_file()]


def code_files(script: str | Path) -> list[Path]:
    """The code a script runs: itself, every srlm module it imports (transitively, lazy imports
    inside functions included, with their packages' `__init__.py` unless it holds only a
    docstring) and the data files those modules name (`DATA_DIRS`: prompt files, view
    templates). Resume stamps hash exactly these; tests check dvc.yaml lists them."""
    seen: set[Path] = set()
    todo = [Path(script).resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        if path.suffix != ".py":
            seen.add(path)
            if path.suffix == ".j2":  # a template runs the templates it extends or includes
                todo += [
                    f
                    for name in TEMPLATE_REFERENCE.findall(path.read_text())
                    for f in _data_files(name)
                ]
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
                todo += _data_files(node.value)
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
    files = (
        code_files(script)
        if script is not None
        else sorted(p for p in PACKAGE.rglob("*") if p.suffix in (".py", ".txt"))
    )
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def fingerprint(params: Any, inputs: Iterable[str | Path] = (), **extra: Any) -> str:
    """Hash of params + input contents + extra identity + srlm's version (the module's rule).

    Inputs count by content, in the order given (the order says which is which), never by
    path. It goes into the manifest, so it leaves code out on purpose: a code change that does
    not change an artifact's rows must not change its bytes, or DVC would rerun everything
    downstream. Resumable shards are stamped with the code too (`ShardWriter`).
    """
    payload = {
        "params": params,
        "inputs": [input_hash(p) for p in inputs],
        "extra": extra,
        "srlm": __version__,
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
