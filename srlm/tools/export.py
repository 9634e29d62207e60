"""Export an artifact for use outside srlm: one parquet file, JSON lines, or a `datasets`
dataset directory (`datasets.load_from_disk`). Pairs are written in TRL's conversational
prompt / chosen / rejected format, ready for `DPOTrainer`."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from srlm.core.artifacts import atomic_directory
from srlm.core.atomic import staging
from srlm.core.errors import SrlmError
from srlm.core.locks import OutputLock
from srlm.tools.chat_format import preference_frame

FORMATS = ("parquet", "jsonl", "hf")


def export_frame(frame: pl.DataFrame, kind: str, out: str | Path, fmt: str) -> Path:
    """Write `frame` (an artifact of kind `kind`) to `out` in format `fmt`; returns `out`."""
    if fmt not in FORMATS:
        raise SrlmError(f"unknown export format '{fmt}' (expected {', '.join(FORMATS)})")
    out = Path(out)
    if os.path.lexists(out):  # a dangling symlink is a user's too
        raise _taken(out)
    if kind == "pairs":
        frame = preference_frame(frame)
    if fmt == "hf":
        import datasets

        with atomic_directory(out) as tmp:
            datasets.Dataset(frame.to_arrow()).save_to_disk(str(tmp))
            if os.path.lexists(out):  # made while we wrote: never replaced
                raise _taken(out)
        return out
    # Written under a unique hidden name beside `out`, then linked into place: never a
    # fixed `<out>.tmp` (a user's file of that name stays), never over a file made meanwhile.
    with OutputLock(out), staging(out) as tmp:
        if fmt == "parquet":
            frame.write_parquet(tmp)
        else:
            frame.write_ndjson(tmp)
        _publish(tmp, out)
    return out


def _taken(out: Path) -> SrlmError:
    return SrlmError(f"{out}: already exists; choose a new path (nothing was overwritten)")


def _publish(tmp: Path, out: Path) -> None:
    """Put the finished file `tmp` at `out`, unless something is there already."""
    try:
        os.link(tmp, out)
    except FileExistsError:
        raise _taken(out) from None
    except OSError:  # a file system without hard links
        if os.path.lexists(out):
            raise _taken(out) from None
        os.rename(tmp, out)
