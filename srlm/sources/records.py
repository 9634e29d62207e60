"""Records from a data file: JSON lines, a JSON list, parquet, or a hub dataset.

`load_records(spec)` returns `(line or row number, record)` pairs, so every later error can
name its line; structural problems (missing file, malformed JSON, bad UTF-8, a lone surrogate
or nesting too deep (`srlm.core.text.parse_json`), unknown type) raise an `SrlmError` naming
the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from srlm.core.bounded_read import DATA_LIMIT, check_regular, open_regular, read_lines, read_text
from srlm.core.errors import SrlmError
from srlm.core.fingerprints import HUB_PREFIX, hub_dataset
from srlm.core.text import parse_json


class SeedFormatError(SrlmError):
    """Unreadable seed input; the message names the file (and line, for jsonl)."""


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, record) for each non-blank line; malformed JSON names file and line."""
    # Bytes, decoded line by line, so an encoding error names its own line; bounded, so a
    # FIFO or a device named as data is one error, never a hang or an endless read.
    with open_regular(path, "data file", DATA_LIMIT, SeedFormatError) as handle:
        lines = read_lines(handle, path, "data file", DATA_LIMIT, SeedFormatError)
        for number, raw in enumerate(lines, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise SeedFormatError(f"{path}:{number}: not valid UTF-8 text") from None
            if not line.strip():
                continue
            try:
                # parse_json: a lone surrogate or nesting too deep names this line too
                yield number, parse_json(line, f"{path}:{number}")
            except json.JSONDecodeError as err:
                raise SeedFormatError(f"{path}:{number}: malformed JSON ({err.msg})") from None


def load_records(spec: str) -> list[tuple[int, Any]]:
    """(line or row number, record) from a .jsonl/.json/.parquet path or `hf://name[:split]`."""
    if spec.startswith(HUB_PREFIX):
        # A hub name for users who are online, or a local folder in the hub's layout (then
        # the fingerprint hashes that folder, `srlm.core.fingerprints.hub_input_hash`).
        import datasets

        name, split = hub_dataset(spec)
        try:
            rows = datasets.load_dataset(name, split=split).to_list()
        except Exception as err:  # offline, unknown dataset or split: many exception types
            raise SeedFormatError(
                f"{spec}: cannot load ({type(err).__name__}: {err})".splitlines()[0]
            ) from None
        return list(enumerate(rows, start=1))
    path = Path(spec)
    if not path.exists():
        raise SeedFormatError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        check_regular(path, "data file", DATA_LIMIT, SeedFormatError)  # polars reads it
        try:
            return list(enumerate(pl.read_parquet(path).to_dicts(), start=1))
        except Exception as err:  # polars raises several types for a bad file
            raise SeedFormatError(f"{path}: unreadable parquet ({err})".splitlines()[0]) from None
    if suffix == ".json":
        text = read_text(path, "data file", DATA_LIMIT, SeedFormatError)
        try:
            data = parse_json(text, str(path))
        except json.JSONDecodeError as err:
            raise SeedFormatError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from None
        if not isinstance(data, list):
            raise SeedFormatError(f"{path}: expected a JSON list of records")
        return list(enumerate(data, start=1))
    if suffix in (".jsonl", ".ndjson"):
        return list(iter_jsonl(path))
    raise SeedFormatError(
        f"{path}: unknown file type '{suffix}' (expected .jsonl, .json or .parquet)"
    )
