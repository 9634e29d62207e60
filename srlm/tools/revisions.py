"""Artifacts as they were at a git revision, read through DVC without touching the workspace.

`fetch_revision(path, rev, into)` copies the artifact directory `path` as recorded at `rev`
(its dvc.lock entry, from the local DVC cache or the default remote) to the folder `into`.
"""

from __future__ import annotations

from pathlib import Path

from srlm.core.errors import SrlmError


class RevisionError(SrlmError):
    """An unknown revision, or a path that revision does not have."""


def fetch_revision(path: str, rev: str, into: str | Path, repo: str = ".") -> Path:
    """Copy `path` at git revision `rev` into `into`; return the copy's directory."""
    from dvc.api import DVCFileSystem
    from scmrepo.git import Git

    try:
        with Git(repo) as scm:
            sha = scm.resolve_rev(rev)
    except Exception as err:  # scmrepo raises several types for a bad revision or no repo
        raise RevisionError(f"unknown revision '{rev}' ({type(err).__name__})") from None
    fs = DVCFileSystem(repo, rev=sha)
    if not fs.exists(path):
        raise RevisionError(f"{path}: not present at revision '{rev}'")
    target = Path(into)
    try:
        fs.get(path, str(target), recursive=True)
    except Exception as err:
        message = f"{path}@{rev}: cannot read it ({err}); is it in the DVC cache or a remote?"
        raise RevisionError(message.splitlines()[0]) from None
    return target
