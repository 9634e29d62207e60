"""Resumable, sharded generation for the long stages (candidates, judgments).

`run_sharded` walks the shards in order with a progress bar, skips shards a previous run
already wrote under the same fingerprint, generates the rest and writes each one atomically,
so a run killed at any moment and started again ends with the same artifact as an
uninterrupted run. `shard_seed` gives every request a seed that depends only on its own
identity, never on shard boundaries or batch composition.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import polars as pl
from tqdm.auto import tqdm

from srlm.errors import SrlmError
from srlm.io import ShardWriter

Item = TypeVar("Item")
log = logging.getLogger(__name__)


def request_seed(*parts: object) -> int:
    """A 31-bit seed from the identity of a request (e.g. base seed, iteration, id)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "little") >> 1


def chunks(items: Sequence[Item], size: int) -> list[Sequence[Item]]:
    """`items` in consecutive chunks of `size` (the last may be shorter)."""
    if size < 1:
        raise SrlmError(f"shard size must be >= 1, got {size}")
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_sharded(
    writer: ShardWriter,
    shards: Sequence[Sequence[Item]],
    make_frame: Callable[[Sequence[Item]], pl.DataFrame],
    desc: str,
    meta: dict | None = None,
) -> pl.DataFrame:
    """Build each unfinished shard with `make_frame`, then validate and finish the artifact."""
    resumed = sum(writer.done(i) for i in range(len(shards)))
    if resumed:
        log.info("%s: resuming, %d of %d shards already written", writer.directory, resumed,
                 len(shards))
    with tqdm(total=len(shards), initial=resumed, desc=desc, unit="shard") as bar:
        for index, shard in enumerate(shards):
            if writer.done(index):
                continue
            writer.write(index, make_frame(shard))
            bar.update(1)
    # The manifest says nothing about resumption: a resumed build must equal a clean one.
    return writer.finish(len(shards), meta=meta)
