"""One writer per output: an exclusive, non-blocking lock beside the path it guards.

`OutputLock(target)` takes `fcntl.flock` on `.<name>.srlm-lock` in the target's folder; a
second process (or a second lock in the same process) fails at once with `OutputBusyError`,
one line naming the output and the pid that holds it. The kernel drops the lock when its
holder dies (`kill -9` included), so a stale lock file never blocks anyone; a clean release
removes the file while still holding the lock, and an acquirer that locked a file removed
meanwhile tries again, so two holders can never exist.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from srlm.core.errors import SrlmError

LOCK_SUFFIX = ".srlm-lock"


class OutputBusyError(SrlmError):
    """Another srlm process is writing the same output."""


def lock_path(target: str | Path) -> Path:
    """The lock file of `target`: hidden, beside it, never inside it."""
    target = Path(target)
    return target.parent / f".{target.name}{LOCK_SUFFIX}"


def _holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        pid = ""
    return pid or "unknown"


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
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
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
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
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
