"""Export an artifact for use outside srlm: one parquet file, JSON lines, or a `datasets`
dataset directory (`datasets.load_from_disk`). Pairs are written in TRL's conversational
prompt / chosen / rejected format, ready for `DPOTrainer`."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from srlm.core.artifacts import atomic_directory
from srlm.core.errors import SrlmError
from srlm.tools.chat_format import preference_frame

FORMATS = ("parquet", "jsonl", "hf")


def export_frame(frame: pl.DataFrame, kind: str, out: str | Path, fmt: str) -> Path:
    """Write `frame` (an artifact of kind `kind`) to `out` in format `fmt`; returns `out`."""
    if fmt not in FORMATS:
        raise SrlmError(f"unknown export format '{fmt}' (expected {', '.join(FORMATS)})")
    out = Path(out)
    if out.exists():
        raise SrlmError(f"{out}: already exists; choose a new path (nothing was overwritten)")
    if kind == "pairs":
        frame = preference_frame(frame)
    if fmt == "hf":
        import datasets

        with atomic_directory(out) as tmp:
            datasets.Dataset(frame.to_arrow()).save_to_disk(str(tmp))
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    if fmt == "parquet":
        frame.write_parquet(tmp)
    else:
        frame.write_ndjson(tmp)
    tmp.rename(out)
    return out
