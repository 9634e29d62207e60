"""Replacing outputs by renames, all or nothing, without touching anything we did not create.

- `staging(target)` gives a fresh path `.<name>.srlm-tmp-XXXXXXXX/<name>` beside `target`
  (unique, made by `tempfile.mkdtemp`) and removes that folder afterwards, whatever happens.
- `swap_in([(staged, target), ...])` moves each old target into its own unique backup folder
  `.<name>.srlm-old-XXXXXXXX/`, renames the staged path into place, and deletes the backups
  only once every target is in place; if any step fails, the targets already replaced get
  their old versions back.

Never a fixed `<target>.old` or `<target>.tmp`: a user's file of that name is left alone.
Callers hold the target's `OutputLock` (`srlm.core.locks`), which is what makes it safe for
`staging` to remove staging folders that a killed earlier writer of the same target left.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

TMP_TAG = "srlm-tmp"
OLD_TAG = "srlm-old"
# tempfile.mkdtemp's names: the prefix, then 8 characters of this alphabet.
_RANDOM = r"[a-z0-9_]{8}"
_rename = os.rename  # one seam, so tests can make a rename fail mid-swap


def _reserve(target: Path, tag: str) -> Path:
    return Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.{tag}-"))


def _remove_stale_staging(target: Path) -> None:
    """Staging folders of `target` left by a killed writer (the caller holds the lock, so no
    live process owns them); only names exactly as `staging` makes them."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.{TMP_TAG}-{_RANDOM}")
    for path in target.parent.glob(f".{glob.escape(target.name)}.{TMP_TAG}-*"):
        if pattern.fullmatch(path.name) and path.is_dir() and not path.is_symlink():
            log.info("%s: removing the staging folder of an interrupted write", path)
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def staging(target: str | Path) -> Iterator[Path]:
    """A fresh, not yet created path beside `target` to build its replacement in."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(target)
    holder = _reserve(target, TMP_TAG)
    try:
        yield holder / target.name
    finally:
        shutil.rmtree(holder, ignore_errors=True)


@dataclass
class _Step:
    staged: Path
    target: Path
    holder: Path
    backup: Path | None = None
    placed: bool = False


def _roll_back(steps: list[_Step]) -> None:
    for step in reversed(steps):
        try:
            if step.placed:
                _rename(step.target, step.staged)
                step.placed = False
            if step.backup is not None:
                _rename(step.backup, step.target)
                step.backup = None
            step.holder.rmdir()
        except OSError as err:
            log.error("%s: could not restore the previous version (%s); it is kept in %s",
                      step.target, err, step.holder)


def swap_in(pairs: Sequence[tuple[Path, Path]]) -> None:
    """Replace every `target` by its `staged` path with renames: all of them, or none."""
    steps: list[_Step] = []
    try:
        for staged, target in pairs:
            step = _Step(Path(staged), Path(target), _reserve(Path(target), OLD_TAG))
            steps.append(step)
            if os.path.lexists(step.target):
                backup = step.holder / step.target.name
                _rename(step.target, backup)
                step.backup = backup
            _rename(step.staged, step.target)
            step.placed = True
    except BaseException:
        _roll_back(steps)
        raise
    for step in steps:
        shutil.rmtree(step.holder, ignore_errors=True)
