"""Resumable, sharded building of the long stages (candidates, judgments).

`run_sharded` walks the shards in order with a progress bar, skips shards a previous run
already wrote under the same fingerprint, generates the rest and writes each one atomically,
so a run killed at any moment and started again ends with the same artifact as an
uninterrupted run. `ShardWriter` keeps shards written under the same fingerprint and the same
code and wipes any others; `finish` validates the whole and writes the manifest last.
`request_seed` gives every request a seed that depends only on its own
identity, never on shard boundaries or batch composition.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import polars as pl
from tqdm.auto import tqdm

from srlm.core.artifacts import MANIFEST, ArtifactError, manifest_for
from srlm.core.errors import SrlmError
from srlm.core.fingerprints import code_hash
from srlm.core.schemas import validate

SHARD_FINGERPRINT = "_fingerprint"
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


class ShardWriter:
    """Resumable shard-by-shard writing of one artifact (see the module docstring)."""

    def __init__(self, directory: str | Path, schema: str, fingerprint: str,
                 code: str | Path | None = None):
        self.directory = Path(directory)
        self.schema = schema
        self.fingerprint = fingerprint
        # Shards of an interrupted run are reused only by the same params, inputs AND code:
        # a fixed parser or prompt file must never be mixed with rows made before the fix.
        # `code` is the stage script: its own code and everything it imports (see
        # `code_files`); without it, all of srlm.
        self.stamp = f"{fingerprint} {code_hash(code)}"
        stamp = self.directory / SHARD_FINGERPRINT
        if self.directory.exists():
            previous = stamp.read_text().strip() if stamp.is_file() else None
            if previous != self.stamp:
                log.info("%s: discarding shards from another build", self.directory)
                shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / MANIFEST).unlink(missing_ok=True)  # unfinished from here on
        for leftover in self.directory.glob("*.tmp"):
            leftover.unlink()
        stamp.write_text(self.stamp + "\n")

    def _path(self, index: int) -> Path:
        return self.directory / f"part-{index:05d}.parquet"

    def done(self, index: int) -> bool:
        """Whether shard `index` was already written under this fingerprint."""
        return self._path(index).is_file()

    def write(self, index: int, frame: pl.DataFrame) -> None:
        """Validate and atomically write shard `index`."""
        validate(frame, self.schema, where=f"{self.directory} shard {index}")
        tmp = self._path(index).with_suffix(".tmp")
        frame.write_parquet(tmp)
        tmp.rename(self._path(index))

    def finish(self, n_shards: int, meta: dict | None = None) -> pl.DataFrame:
        """Check all `n_shards` exist, drop extra ones, validate the whole, write the manifest."""
        if n_shards == 0:
            raise ArtifactError(f"{self.directory}: nothing to write (the input has no rows)")
        missing = [i for i in range(n_shards) if not self.done(i)]
        if missing:
            raise ArtifactError(f"{self.directory}: shards {missing[:5]} were never written")
        for extra in self.directory.glob("part-*.parquet"):
            if int(extra.stem.split("-")[1]) >= n_shards:
                extra.unlink()
        frame = pl.read_parquet([self._path(i) for i in range(n_shards)])
        validate(frame, self.schema, where=str(self.directory))
        manifest = manifest_for(frame, self.schema, self.fingerprint, meta)
        tmp = self.directory / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        tmp.rename(self.directory / MANIFEST)
        (self.directory / SHARD_FINGERPRINT).unlink(missing_ok=True)
        return frame
