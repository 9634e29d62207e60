"""One writer per output: an exclusive, non-blocking lock beside the path it guards.

`OutputLock(target)` takes `fcntl.flock` on `.<name>.srlm-lock` in the target's folder; a
second process (or a second lock in the same process) fails at once with `OutputBusyError`,
one line naming the output and the pid that holds it. The kernel drops the lock when its
holder dies (`kill -9` included), so a stale lock file never blocks anyone; a clean release
removes the file while still holding the lock, and an acquirer that locked a file removed
meanwhile tries again, so two holders can never exist.

A file of that name that is not a lock file (anything but a pid: a user's notes) is never
truncated or removed: the lock is refused with one line naming it. `holds(target)` says
whether this process holds `target`'s lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
from pathlib import Path

from srlm.core.errors import SrlmError

LOCK_SUFFIX = ".srlm-lock"
_LOCK_TEXT = re.compile(rb"\d{0,20}\n?")  # what a lock file holds: a pid, or nothing yet
_held: set[str] = set()  # the targets whose lock this process holds


class OutputBusyError(SrlmError):
    """Another srlm process is writing the same output."""


def lock_path(target: str | Path) -> Path:
    """The lock file of `target`: hidden, beside it, never inside it."""
    target = Path(target)
    return target.parent / f".{target.name}{LOCK_SUFFIX}"


def holds(target: str | Path) -> bool:
    """Whether this process holds `target`'s lock."""
    return os.path.abspath(target) in _held


def _holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        pid = ""
    return pid or "unknown"


class LockFileError(SrlmError):
    """The lock file's path holds something that is not a lock file, or cannot be written."""


def _check_lock_file(fd: int, path: Path, target: Path) -> None:
    """Refuse a file at the lock's path that is not ours: a pid or empty is all we write."""
    info = os.fstat(fd)
    content = os.pread(fd, 64, 0) if stat.S_ISREG(info.st_mode) else b"?"
    if not stat.S_ISREG(info.st_mode) or info.st_size > 32 or not _LOCK_TEXT.fullmatch(content):
        raise LockFileError(
            f"{path}: not a lock file of this tool (it holds other data), "
            f"so {target} is not written; move it away"
        )


class OutputLock:
    """An exclusive lock on writing `target`; `acquire`/`release` or a `with` block."""

    def __init__(self, target: str | Path):
        self.target = Path(target)
        self.path = lock_path(self.target)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> OutputLock:
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:  # never through a symlink, never a folder or a device
                fd = os.open(
                    self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644
                )
            except OSError as err:
                raise LockFileError(
                    f"{self.path}: cannot open the lock file of {self.target} ({err.strerror})"
                ) from None
            try:
                _check_lock_file(fd, self.path, self.target)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _holder(fd)
                os.close(fd)
                raise OutputBusyError(
                    f"{self.target}: another srlm process (pid {pid}) is writing it"
                ) from None
            except BaseException:
                os.close(fd)
                raise
            # The previous holder may have removed the file between our open and our lock:
            # a lock on a removed file guards nothing, so start again on the current one.
            try:
                current = os.stat(self.path)
                mine = os.fstat(fd)
                same = (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino)
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as err:  # a full disk: leave no lock file behind
            self.path.unlink(missing_ok=True)
            os.close(fd)
            full = err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
            raise LockFileError(
                f"{self.path}: cannot write the lock file ({'disk full' if full else err.strerror})"
            ) from None
        self._fd = fd
        _held.add(os.path.abspath(self.target))
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        _held.discard(os.path.abspath(self.target))
        try:
            self.path.unlink(missing_ok=True)  # still locked: nobody else can hold it now
        finally:
            os.close(fd)

    def __del__(self) -> None:  # an unreachable lock guards nothing: let it go
        try:
            self.release()
        except Exception:
            pass

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
