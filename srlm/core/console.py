"""How stage scripts and the CLI run: logging, and every error as one clear line.

`run_stage(main)` calls `main()`; whatever goes wrong is printed as one line starting with
`error:` and the process exits 1, instead of a traceback from deep inside a library:
- an `SrlmError` (bad params, bad seed file, missing or invalid artifact, unloadable model)
  is printed as it is: its message names the file/key;
- an `OSError` (full disk, read-only or missing folder) names the file and the reason;
- a polars write that failed for lack of space ("Invalid thrift: transport error", "No space
  left on device", or "File too large": a file-size limit, errno EFBIG) says so;
- anything else is `error: <stage>: unexpected <Type>: <message>`; `SRLM_DEBUG=1` shows
  the traceback instead.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from srlm.core.errors import SrlmError

DEBUG_HINT = "(SRLM_DEBUG=1 shows the traceback)"
_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free some space and rerun",
    # a file-size limit (`ulimit -f`, RLIMIT_FSIZE, or the file system's largest file) stops a
    # write like a full disk does: same remedy, named for what it is
    errno.EFBIG: "the file hit a file-size limit (`ulimit -f` or the file system's): raise "
    "the limit or free some space and rerun",
    errno.EDQUOT: "the disk quota is used up: free some space and rerun",
    errno.EROFS: "the folder is on a read-only file system: choose a writable output",
    errno.EACCES: "no permission: choose a writable output or fix the folder's permissions",
    errno.EPERM: "no permission: choose a writable output or fix the folder's permissions",
}
# What polars says when a parquet write or read hits a full disk, or a file-size limit.
_DISK_FULL_MARKERS = ("No space left on device", "os error 28", "Invalid thrift: transport error")
_SIZE_LIMIT_MARKERS = ("File too large", "os error 27")


def setup_logging() -> None:
    """INFO logs to stderr, quiet third-party chatter; `SRLM_LOG=DEBUG` for more."""
    logging.basicConfig(
        level=os.environ.get("SRLM_LOG", "INFO"),
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "urllib3", "filelock", "datasets", "fsspec"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Stages never talk to a hub; fail fast instead of waiting on the network.
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def one_line(text: object, limit: int = 400) -> str:
    """`text` (a message or an exception) as one line: its lines joined with ' | ', cut at
    `limit` characters."""
    joined = " | ".join(part.strip() for part in str(text).splitlines() if part.strip())
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


def _is_file(name) -> bool:
    try:
        return Path(name).is_file()
    except (OSError, ValueError):
        return False


def _os_error(err: OSError) -> str:
    files = [str(f) for f in (err.filename, err.filename2) if f is not None]
    reason = err.strerror or str(err) or type(err).__name__
    if err.errno in (errno.EEXIST, errno.ENOTDIR):
        # mkdir(parents=True) through a file says "File exists": name the real problem.
        for name in files:
            for candidate in (Path(name), *Path(name).parents):
                if _is_file(candidate):
                    return f"{candidate}: is a file, but a folder is needed there ({reason})"
    hint = _OS_HINTS.get(err.errno) if err.errno is not None else None
    text = ": ".join([*files, reason]) if files else f"{reason} (while reading or writing)"
    return f"{text}; {hint}" if hint else text


def error_line(err: BaseException, where: str) -> str | None:
    """The one line (`error: ...`) that reports `err`; None for an unexpected error while
    `SRLM_DEBUG` is set (the caller re-raises it for its traceback)."""
    if isinstance(err, SrlmError):
        return f"error: {one_line(err)}"
    if isinstance(err, OSError):
        return f"error: {where}: {one_line(_os_error(err))}"
    message = str(err)
    from_polars = type(err).__module__.startswith("polars")
    if from_polars and any(marker in message for marker in _SIZE_LIMIT_MARKERS):
        return (
            f"error: {where}: writing parquet failed (polars: {one_line(message, 160)}); "
            f"{_OS_HINTS[errno.EFBIG]}"
        )
    if from_polars and any(marker in message for marker in _DISK_FULL_MARKERS):
        return (
            f"error: {where}: writing parquet failed, the disk is probably full "
            f"(polars: {one_line(message, 160)}); free some space and rerun"
        )
    if os.environ.get("SRLM_DEBUG"):
        return None
    return f"error: {where}: unexpected {type(err).__name__}: {one_line(message)} {DEBUG_HINT}"


def stage_name() -> str:
    """The running stage's name: its script's file name (`stages/seed.py` -> `seed`)."""
    return Path(sys.argv[0]).stem or "stage"


def run_stage(main: Callable[[], object]) -> None:
    """Run a stage's `main`; every error becomes one line on stderr and exit status 1."""
    setup_logging()
    try:
        main()
    except Exception as err:  # noqa: BLE001 - the whole point: one line, never a traceback
        line = error_line(err, stage_name())
        if line is None:
            raise
        print(line, file=sys.stderr)
        sys.exit(1)
