"""The pipeline's DVC metrics as one run saw them: from a folder or from a git revision.

`read_side(spec, metrics_dir)` returns `(label, files)`, `files` mapping each JSON file's name
relative to the metrics folder (`m1/judge.json`) to its parsed content. `spec` is:
- `None`: the workspace's metrics folder (what the last `dvc repro` wrote);
- a directory: that metrics folder, or a project folder holding `<metrics_dir>` (another
  clone: `srlm compare ../their-clone`);
- anything else: a git revision (`HEAD`, `HEAD~3`, a tag, a commit), read with `git ls-tree` /
  `git show` so the workspace is never touched. Metrics are git-tracked (`cache: false`), so no
  DVC cache or remote is needed.
Only `.json` files are read: the CSVs beside them are plot data (loss curves), not figures.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path, PurePosixPath

from srlm.core.bounded_read import METADATA_LIMIT, format_limit, read_text
from srlm.core.errors import SrlmError
from srlm.core.text import parse_json


def parse_metrics(text: str, name: str) -> dict:
    """One metrics file's JSON object; a clear error naming `name` for anything else."""
    try:
        tree = parse_json(text, name)  # nesting too deep, lone surrogates: named
    except json.JSONDecodeError as err:
        raise SrlmError(f"{name}: not valid JSON (line {err.lineno}: {err.msg})") from None
    if not isinstance(tree, dict):
        raise SrlmError(f"{name}: expected a JSON object of metrics, got a {type(tree).__name__}")
    return tree


def read_folder(root: str | Path) -> dict[str, dict]:
    """Every `*.json` under `root` (recursively), by its posix path relative to `root`."""
    root = Path(root)
    files = {}
    for path in sorted(root.rglob("*.json")):
        if not path.is_dir():  # a FIFO or a device named *.json is an error, not skipped
            text = read_text(path, "metrics file", METADATA_LIMIT)
            files[path.relative_to(root).as_posix()] = parse_metrics(text, str(path))
    if not files:
        raise SrlmError(f"{root}: no JSON metrics files in this folder")
    return files


def _git(args: list[str], cwd: str | Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise SrlmError("git is not installed: compare two metrics folders instead") from None
    except NotADirectoryError:
        raise SrlmError(f"{cwd}: not a directory") from None


def _stderr(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return lines[0].removeprefix("fatal: ") if lines else f"git exited {proc.returncode}"


def read_revision(rev: str, metrics_dir: str = "metrics", repo: str | Path = ".") -> dict:
    """The metrics folder `metrics_dir` (relative to `repo`) as committed at git revision `rev`."""
    top = _git(["rev-parse", "--show-toplevel"], repo)
    if top.returncode != 0:
        raise SrlmError(
            f"'{rev}' is not a folder, and {Path(repo).resolve()} is not in a git "
            f"repository ({_stderr(top)}): give metrics folders instead"
        )
    toplevel = Path(top.stdout.strip())
    resolved = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], toplevel)
    if resolved.returncode != 0:
        raise SrlmError(f"unknown revision '{rev}' (and no folder of that name)")
    sha = resolved.stdout.strip()
    try:  # git names files from the repository's top, whatever folder we run in
        prefix = (Path(repo) / metrics_dir).resolve().relative_to(toplevel.resolve())
    except ValueError:
        raise SrlmError(f"{metrics_dir}: outside the git repository {toplevel}") from None
    # `-l`: each blob's size, so that a huge committed file is refused before `git show`
    # reads it into memory (the same limit as a metrics file in a folder).
    listed = _git(["ls-tree", "-r", "-l", "--full-name", sha, "--", prefix.as_posix()], toplevel)
    if listed.returncode != 0:
        raise SrlmError(f"git ls-tree {rev}: {_stderr(listed)}")
    sizes = {}
    for line in listed.stdout.splitlines():
        meta, _, name = line.partition("\t")  # "<mode> blob <object> <size>\t<path>"
        if name.endswith(".json") and meta.split()[1:2] == ["blob"]:
            sizes[name] = int(meta.split()[-1])
    if not sizes:
        raise SrlmError(f"{metrics_dir}: no JSON metrics files at revision '{rev}'")
    files = {}
    for name in sorted(sizes):
        if sizes[name] > METADATA_LIMIT:
            raise SrlmError(
                f"{name}@{rev}: {sizes[name]:,} bytes, over the "
                f"{format_limit(METADATA_LIMIT)} limit on a metrics file"
            )
        shown = _git(["show", f"{sha}:{name}"], toplevel)
        if shown.returncode != 0:
            raise SrlmError(f"{name}@{rev}: {_stderr(shown)}")
        relative = PurePosixPath(name).relative_to(prefix.as_posix()).as_posix()
        files[relative] = parse_metrics(shown.stdout, f"{name}@{rev}")
    return files


def read_side(
    spec: str | None, metrics_dir: str = "metrics", repo: str | Path = "."
) -> tuple[str, dict[str, dict]]:
    """`(label, files)` for a revision, a folder, or (`None`) the workspace's metrics folder."""
    if spec is None:
        folder = Path(repo) / metrics_dir
        if not folder.is_dir():
            raise SrlmError(
                f"{metrics_dir}: no metrics folder in the workspace (run dvc repro, "
                "or pass --metrics-dir or two revisions)"
            )
        return f"{metrics_dir} (workspace)", read_folder(folder)
    path = Path(spec)
    if path.is_dir():
        # A clone's root holds the metrics folder; a metrics folder holds the JSON itself.
        inner = path / metrics_dir
        return spec, read_folder(inner if inner.is_dir() else path)
    return spec, read_revision(spec, metrics_dir, repo)
