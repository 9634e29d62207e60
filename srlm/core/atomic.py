"""Replacing outputs by renames, all or nothing even under `kill -9`, touching only what we made.

- `staging(target)` gives a fresh path `.<name>.srlm-tmp-XXXXXXXX/<name>` beside `target`
  (unique, made by `tempfile.mkdtemp`) and removes that folder afterwards, whatever happens.
- `swap_in([(staged, target), ...])` first writes a journal beside every target
  (`.<name>.srlm-journal`: every step of the set), then moves each old target into its own
  backup folder `.<name>.srlm-old-XXXXXXXX/` and renames the staged path into place, and
  only then deletes the backups and the journals. An error in the process (a full disk, a
  refused rename) puts the old versions back.
- `recover(target)`: a process killed during a swap leaves its journal; the next writer of
  any target of the set (`staging` and the shard writer call it) finishes the swap forward:
  every staged path was complete before the first journal was written, so after a crash at
  any point the outputs are all old (journal not yet written) or all new (journal found).

Every folder reserved here holds a `.srlm-made` mark, and nothing is removed unless it has
the exact shape made here (name, mark, contents): a user's file or folder that merely looks
like ours is left alone. Callers hold the target's `OutputLock` (`srlm.core.locks`), which
is what makes it safe to clean up after a killed earlier writer of the same target.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from srlm.core.bounded_read import METADATA_LIMIT, read_text
from srlm.core.errors import SrlmError
from srlm.core.locks import OutputLock, holds

log = logging.getLogger(__name__)

TMP_TAG = "srlm-tmp"
OLD_TAG = "srlm-old"
JOURNAL_TAG = "srlm-journal"
MARK = ".srlm-made"  # inside every folder reserved here: the proof that it is ours
_JOURNAL_KEY = "srlm_journal"
# tempfile's names: the prefix, then 8 characters of this alphabet.
_RANDOM = r"[a-z0-9_]{8}"
_rename = os.rename  # one seam, so tests can make a rename fail (or kill) mid-swap


class InterruptedSwapError(SrlmError):
    """An interrupted replacement that cannot be finished safely."""


def journal_path(target: Path) -> Path:
    """The journal of a swap that includes `target`: hidden, beside it."""
    return target.parent / f".{target.name}.{JOURNAL_TAG}"


def _reserve(target: Path, tag: str) -> Path:
    holder = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.{tag}-"))
    (holder / MARK).touch()
    return holder


def _is_ours(holder: Path, target: Path, tag: str) -> bool:
    """`holder` was reserved here for `target`: its name, its mark, and nothing else in it
    but the mark and (possibly) `target`'s name."""
    pattern = rf"\.{re.escape(target.name)}\.{tag}-{_RANDOM}"
    if not re.fullmatch(pattern, holder.name) or holder.is_symlink() or not holder.is_dir():
        return False
    try:
        names = {entry.name for entry in holder.iterdir()}
    except OSError:
        return False
    return MARK in names and names <= {MARK, target.name}


def _remove_leftovers(target: Path) -> None:
    """Staging folders of `target` left by a killed writer, and empty backup folders of a
    swap killed before its journal existed (the caller holds the lock, so no live process
    owns them); only folders of exactly the shape made here."""
    for tag in (TMP_TAG, OLD_TAG):
        for path in target.parent.glob(f".{glob.escape(target.name)}.{tag}-*"):
            if _is_ours(path, target, tag) and (
                tag == TMP_TAG or {p.name for p in path.iterdir()} == {MARK}
            ):
                log.info("%s: removing what an interrupted write left", path)
                shutil.rmtree(path, ignore_errors=True)
    pattern = re.compile(rf"\.{re.escape(target.name)}\.{JOURNAL_TAG}-{_RANDOM}")
    start = f'{{"{_JOURNAL_KEY}"'.encode()
    for path in target.parent.glob(f".{glob.escape(target.name)}.{JOURNAL_TAG}-*"):
        # a journal killed while being written: ours only if it is (the start of) one
        if pattern.fullmatch(path.name) and path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if start.startswith(handle.read(len(start))):
                    path.unlink()


@contextmanager
def staging(target: str | Path) -> Iterator[Path]:
    """A fresh, not yet created path beside `target` to build its replacement in (after
    finishing any swap of `target` that a killed process left half done)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target)
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


def _write_journals(steps: list[_Step]) -> None:
    """One journal beside each target, each listing every step (paths relative to its own
    folder, so a moved project still recovers); each is written whole, then renamed."""
    for step in steps:
        journal = journal_path(step.target)
        here = journal.parent

        def rel(path: Path, here: Path = here) -> str:
            return os.path.relpath(path, here)

        record = {
            _JOURNAL_KEY: 1,
            "steps": [
                {"staged": rel(s.staged), "target": rel(s.target), "holder": rel(s.holder)}
                for s in steps
            ],
        }
        handle, tmp = tempfile.mkstemp(dir=here, prefix=f"{journal.name}-")
        with os.fdopen(handle, "w") as out:
            out.write(json.dumps(record))
        _rename(tmp, journal)


def _read_journal(journal: Path) -> list[_Step]:
    try:
        record = json.loads(read_text(journal, "journal", METADATA_LIMIT, InterruptedSwapError))
        here = journal.parent
        return (
            [
                _Step(here / s["staged"], here / s["target"], here / s["holder"])
                for s in record["steps"]
            ]
            if record.get(_JOURNAL_KEY) == 1
            else []
        )
    except (OSError, SrlmError, ValueError, KeyError, TypeError, AttributeError):
        return []


def _place(step: _Step) -> None:
    """Old target into its backup folder, staged path into place (each part done once)."""
    backup = step.holder / step.target.name
    if not os.path.lexists(step.staged):
        return  # placed already
    if os.path.lexists(step.target):
        if os.path.lexists(backup):
            raise InterruptedSwapError(
                f"{step.target}: an interrupted replacement cannot be finished (its backup "
                f"{backup} and the new version {step.staged} both exist); move one away"
            )
        _rename(step.target, backup)
        step.backup = backup
    _rename(step.staged, step.target)
    step.placed = True


def _finish(steps: list[_Step]) -> None:
    """Every target is new: drop the backups, the emptied staging folders, the journals."""
    for step in steps:
        if _is_ours(step.holder, step.target, OLD_TAG):
            shutil.rmtree(step.holder, ignore_errors=True)
        if _is_ours(step.staged.parent, step.target, TMP_TAG):
            shutil.rmtree(step.staged.parent, ignore_errors=True)
    for step in steps:
        journal_path(step.target).unlink(missing_ok=True)


def recover(target: str | Path) -> None:
    """Finish the swap of `target`'s set that a killed process left (its journal says which),
    then remove what a killed writer of `target` left beside it.

    The caller holds `target`'s lock; the other targets of the set are locked here."""
    target = Path(target)
    journal = journal_path(target)
    if not journal.is_symlink() and journal.is_file():
        _finish_interrupted(target, journal)
    _remove_leftovers(target)


def _finish_interrupted(target: Path, journal: Path) -> None:
    steps = _read_journal(journal)
    if not steps:
        raise InterruptedSwapError(f"{journal}: not a journal this tool wrote; move it away")
    with ExitStack() as stack:
        for step in steps:
            if not holds(step.target):
                stack.enter_context(OutputLock(step.target))
        log.warning("%s: finishing a replacement that was interrupted", target)
        for step in steps:
            _place(step)
        _finish(steps)


def _roll_back(steps: list[_Step]) -> None:
    for step in reversed(steps):
        try:
            if step.placed:
                _rename(step.target, step.staged)
                step.placed = False
            if step.backup is not None:
                _rename(step.backup, step.target)
                step.backup = None
            (step.holder / MARK).unlink(missing_ok=True)
            step.holder.rmdir()  # empty now; never removes an old version it still holds
        except OSError as err:
            log.error(
                "%s: could not restore the previous version (%s); it is kept in %s",
                step.target,
                err,
                step.holder,
            )
    for step in steps:
        journal_path(step.target).unlink(missing_ok=True)


def swap_in(pairs: Sequence[tuple[Path, Path]]) -> None:
    """Replace every `target` by its complete `staged` path with renames: all of them, or
    none, also when the process is killed midway (then the next writer finishes it)."""
    steps = [
        _Step(Path(staged), Path(target), _reserve(Path(target), OLD_TAG))
        for staged, target in pairs
    ]
    try:
        _write_journals(steps)
        for step in steps:
            _place(step)
    except BaseException:
        _roll_back(steps)
        raise
    _finish(steps)
