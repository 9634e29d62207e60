"""Reading a file a user named, with a bound on what the read can cost: regular files only,
at most a size limit.

A path in params, on a stage's command line or in an artifact can name anything: a FIFO
(opening it for reading waits for a writer forever), `/dev/zero` or `/dev/urandom` (a read that
never ends), a folder, a socket, or a regular file of any size. Every read of such a file goes
through here:

- `read_text(path, what, limit)` / `read_bytes(...)`: the whole file, at most `limit` bytes;
- `open_regular(path, what, limit)`: a binary file object to stream (JSON lines, hashing),
  after the same checks; `limit=None` only where the file is legitimately unbounded (model
  weights are hashed in chunks, whatever their size); `read_lines` streams its lines, still
  within `limit`;
- `check_regular(path, what, limit)`: the same checks without reading, for files a library
  reads itself (parquet through polars).

The file is opened with `O_NONBLOCK` (so opening a FIFO returns at once instead of waiting for
a writer) and the opened descriptor is `fstat`ed, so what is checked is what is read, even if
the path is swapped between a check and the open. Errors are one line naming the path, what
it is and the limit; `what` ("params file", "manifest") names the file's role in them, and
`error` is the `SrlmError` subclass the caller reports (`ParamsError`, `ArtifactError`, ...).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from srlm.core.errors import SrlmError

MIB = 1 << 20
GIB = 1 << 30

# The limits, one per kind of file, in one place. Each is far above what the pipeline's own
# files are, so only a wrong or hostile path hits it:
# - a params file: `params.yaml` and the profiles are 0.5-6 KB;
PARAMS_LIMIT = 1 * MIB
# - metadata the pipeline writes and reads back: artifact manifests, model records and
#   `config.json`, metrics JSON and per-prompt CSV tables; all under 3 KB here, and a model
#   record lists one line per file even for a 70B model of hundreds of shards;
METADATA_LIMIT = 16 * MIB
# - data files of records (seed sources, evaluation prompts and references, IFEval): the
#   largest in data/raw is 3.3 MB; the full OASST releases a user points the seed stage at
#   for the paper profile are a few hundred MB uncompressed. Parsed, each byte of JSON costs
#   several in memory; a parquet file (compressed) is held to the same limit, a bigger set
#   belongs on the hub (`hf://`, read by `datasets`).
DATA_LIMIT = 2 * GIB
# (An evaluator endpoint's reply has its own cap, `srlm.engines.endpoint.MAX_REPLY_BYTES`.)


class UnreadableFileError(SrlmError):
    """A user-named file that is missing, not a regular file, too large or not UTF-8."""


def format_limit(limit: int) -> str:
    """A limit for a person, as errors show it: 1 MiB, 16 MiB, 2 GiB (1,000 bytes)."""
    if limit and limit % GIB == 0:
        return f"{limit // GIB} GiB"
    return f"{limit // MIB} MiB" if limit and limit % MIB == 0 else f"{limit:,} bytes"


def _a(what: str) -> str:
    """`what` with its article: a params file, an IFEval file."""
    return f"{'an' if what[:1].lower() in 'aeiou' else 'a'} {what}"


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _check(
    path: Path, info: os.stat_result, what: str, limit: int | None, error: type[SrlmError]
) -> None:
    kind = _kind(info.st_mode)
    if kind == "a folder":
        raise error(f"{path}: is a folder, not {_a(what)}")
    if kind is not None:  # a FIFO would block the read, a device never end it
        raise error(f"{path}: is {kind}, not {_a(what)} (only a regular file is read)")
    if limit is not None and info.st_size > limit:
        raise error(
            f"{path}: {info.st_size:,} bytes, over the {format_limit(limit)} limit on {_a(what)}"
        )


def _os_error(path: Path, what: str, err: OSError, error: type[SrlmError]) -> SrlmError:
    if isinstance(err, FileNotFoundError):
        return error(f"{path}: no such {what}")
    return error(f"{path}: cannot read the {what} ({err.strerror or type(err).__name__})")


def check_regular(
    path: str | Path, what: str, limit: int | None, error: type[SrlmError] = UnreadableFileError
) -> int:
    """The size of `path`, a regular file of at most `limit` bytes; else a one-line `error`.
    Only a `stat`: for files a library opens itself (parquet through polars)."""
    path = Path(path)
    try:
        info = os.stat(path)
    except OSError as err:
        raise _os_error(path, what, err, error) from None
    _check(path, info, what, limit, error)
    return info.st_size


def open_regular(
    path: str | Path, what: str, limit: int | None, error: type[SrlmError] = UnreadableFileError
) -> BinaryIO:
    """`path` opened for reading in binary, once it is known to be a regular file of at most
    `limit` bytes (None: any size); else a one-line `error` naming the path."""
    path = Path(path)
    # `stat` first, so that a device is never even opened (opening some has side effects,
    # a tape rewinds); then the opened descriptor is what counts.
    check_regular(path, what, limit, error)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as err:
        raise _os_error(path, what, err, error) from None
    try:
        _check(path, os.fstat(fd), what, limit, error)
        # O_NONBLOCK means nothing for a regular file; clear it all the same, so the reads
        # that follow are the plain blocking reads every reader expects.
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(
    path: str | Path, what: str, limit: int, error: type[SrlmError] = UnreadableFileError
) -> bytes:
    """Every byte of `path`, a regular file of at most `limit` bytes; else a one-line `error`."""
    with open_regular(path, what, limit, error) as handle:
        # One read of the size fstat gave (not of `limit`: a read of n bytes allocates n),
        # then, should the file have grown since, the rest in chunks, never past the limit.
        data = handle.read(min(os.fstat(handle.fileno()).st_size, limit) + 1)
        while len(data) <= limit and (more := handle.read(min(MIB, limit + 1 - len(data)))):
            data += more
    if len(data) > limit:
        raise error(
            f"{path}: grew past the {format_limit(limit)} limit on {_a(what)} while being read"
        )
    return data


def read_text(
    path: str | Path, what: str, limit: int, error: type[SrlmError] = UnreadableFileError
) -> str:
    """`read_bytes` decoded as UTF-8; bad UTF-8 is a one-line `error` naming the path."""
    data = read_bytes(path, what, limit, error)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{path}: not valid UTF-8 text (byte {err.start})") from None


def read_lines(
    handle: BinaryIO,
    path: str | Path,
    what: str,
    limit: int,
    error: type[SrlmError] = UnreadableFileError,
) -> Iterator[bytes]:
    """The lines (bytes) of an `open_regular` handle, stopping with a one-line `error` once
    more than `limit` bytes were read (a file that grew after it was checked)."""
    total = 0
    while line := handle.readline(limit - total + 1):  # a line without an end is bounded too
        total += len(line)
        if total > limit:
            raise error(
                f"{path}: grew past the {format_limit(limit)} limit on {_a(what)} while being read"
            )
        yield line
