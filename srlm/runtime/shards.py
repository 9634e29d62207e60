"""Resumable, sharded building of the long stages (candidates, judgments).

`run_sharded` walks the shards in order with a progress bar, skips shards a previous run
already wrote under the same fingerprint, generates the rest and writes each one atomically,
so a run killed at any moment and started again ends with the same artifact as an
uninterrupted run.

`ShardWriter` locks the output (a second writer fails at once, see `srlm.core.locks`) and
writes its shards into the work folder `<out>.partial/`, stamped with the fingerprint and the
code: shards there are kept by a run of the same fingerprint and code, and wiped by any other
(unfinished work only). The finished artifact `<out>` is never touched until `finish` has
validated the complete new one and written its manifest; then the work folder replaces `<out>`
by renames. A failed run (a broken model, a crash, `kill -9`) leaves `<out>` as it was.
`request_seed` gives every request a seed that depends only on its own
identity, never on shard boundaries or batch composition.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import polars as pl
from tqdm.auto import tqdm

from srlm.core.artifacts import MANIFEST, ArtifactError, bad_shard, manifest_for
from srlm.core.atomic import recover, swap_in
from srlm.core.bounded_read import read_text
from srlm.core.errors import SrlmError
from srlm.core.fingerprints import code_hash
from srlm.core.locks import OutputLock
from srlm.core.params_scale import ScaleParams
from srlm.core.schemas import validate
from srlm.runtime.workers import run_shards

SHARD_FINGERPRINT = "_fingerprint"
PARTIAL_SUFFIX = ".partial"
# Everything a work folder may hold: what `ShardWriter` writes there, nothing a user would.
WORK_FILE = re.compile(
    rf"{SHARD_FINGERPRINT}|part-\d{{5}}\.(parquet|tmp)|"
    rf"{re.escape(MANIFEST)}(\.tmp)?"
)
Item = TypeVar("Item")
log = logging.getLogger(__name__)


def partial_dir(directory: str | Path) -> Path:
    """The work folder where the shards of `directory` are built: `<directory>.partial`."""
    directory = Path(directory)
    return directory.with_name(directory.name + PARTIAL_SUFFIX)


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
    params=None,
    meta: dict | None = None,
) -> pl.DataFrame:
    """Build each unfinished shard with `make_frame`, then validate and finish the artifact.

    With `params` (the whole `Params`), shards are built by `params.scale.workers` workers
    (`srlm.runtime.workers`; `make_frame` must then be picklable, e.g. a `ShardTask`); this
    process alone writes them. The writer's lock is released however this ends (a finished
    artifact or an error)."""
    with writer:
        todo = {i: shard for i, shard in enumerate(shards) if not writer.done(i)}
        resumed = len(shards) - len(todo)
        if resumed:
            log.info(
                "%s: resuming, %d of %d shards already written", writer.work, resumed, len(shards)
            )
        built = run_shards(make_frame, todo, *_scale(params))  # (a model loads here)
        with tqdm(total=len(shards), initial=resumed, desc=desc, unit="shard") as bar:
            for index, frame in built:
                writer.write(index, frame)
                bar.update(1)
        # The manifest says nothing about resumption: a resumed build must equal a clean one.
        return writer.finish(len(shards), meta=meta)


def map_shards(
    task: Callable[[Sequence[Item]], pl.DataFrame],
    items: Sequence[Item],
    shard_size: int,
    params,
    desc: str,
) -> pl.DataFrame:
    """`task` over `items` in shards of `shard_size` on `params.scale.workers` workers, the
    frames concatenated in shard order: the same frame for any number of workers. In memory
    (for the evaluation stages; the loop's long stages use `run_sharded`, which resumes)."""
    shards = dict(enumerate(chunks(items, shard_size)))
    frames = {}
    built = run_shards(task, shards, *_scale(params))  # (a model loads here)
    # one shard: the engine's own bar shows the progress
    with tqdm(total=len(shards), desc=desc, unit="shard", disable=len(shards) < 2) as bar:
        for index, frame in built:
            frames[index] = frame
            bar.update(1)
    return pl.concat([frames[i] for i in sorted(frames)], how="vertical")


def _scale(params) -> tuple[ScaleParams, int]:
    """(scale params, GPUs per worker) of `params`; one worker without them."""
    if params is None:
        return ScaleParams(), 1
    return params.scale, params.engine.tensor_parallel_size


class ShardWriter:
    """Resumable shard-by-shard writing of one artifact (see the module docstring).

    Holds the output's lock from construction until `finish` or `close` (or a `with` block
    ends); constructing it before loading a model makes a second writer fail fast."""

    def __init__(
        self, directory: str | Path, schema: str, fingerprint: str, code: str | Path | None = None
    ):
        self.directory = Path(directory)
        self.work = partial_dir(self.directory)
        self.schema = schema
        self.fingerprint = fingerprint
        # Shards of an interrupted run are reused only by the same params, inputs AND code:
        # a fixed parser or prompt file must never be mixed with rows made before the fix.
        # `code` is the stage script: its own code and everything it imports (see
        # `code_files`); without it, all of srlm.
        self.stamp = f"{fingerprint} {code_hash(code)}"
        self._lock = OutputLock(self.directory).acquire()
        try:
            self._prepare()
        except BaseException:
            self._lock.release()
            raise

    def _prepare(self) -> None:
        """Keep the work folder when it holds shards of this very build, else start it anew;
        a folder of that name that this tool did not make is never emptied."""
        recover(self.directory)  # a swap killed midway is finished before anything else
        stamp = self.work / SHARD_FINGERPRINT
        if self.work.is_dir() and not self.work.is_symlink():
            strangers = [p.name for p in self.work.iterdir() if not WORK_FILE.fullmatch(p.name)]
            if strangers:
                raise ArtifactError(
                    f"{self.work}: not a work folder of this tool (it holds "
                    f"{strangers[0]}), in the way of {self.directory}'s "
                    "shards; move it away"
                )
            # the stamp is one line of ours; a bounded read all the same (it may be anything)
            previous = (
                read_text(stamp, "shard stamp", 4096, ArtifactError).strip()
                if stamp.is_file()
                else None
            )
            if previous != self.stamp:
                log.info("%s: discarding unfinished shards from another build", self.work)
                shutil.rmtree(self.work)
        elif self.work.exists() or self.work.is_symlink():
            raise ArtifactError(
                f"{self.work}: in the way of {self.directory}'s shards (not a folder); move it away"
            )
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / MANIFEST).unlink(missing_ok=True)  # unfinished from here on
        for leftover in self.work.glob("*.tmp"):
            leftover.unlink()
        stamp.write_text(self.stamp + "\n")

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the output's lock; the work folder stays for a later run to resume."""
        self._lock.release()

    def _path(self, index: int) -> Path:
        return self.work / f"part-{index:05d}.parquet"

    def done(self, index: int) -> bool:
        """Whether shard `index` was already written under this fingerprint."""
        return self._path(index).is_file()

    def _check_open(self) -> None:
        if not self._lock.held:
            raise ArtifactError(f"{self.directory}: this writer was already closed")

    def write(self, index: int, frame: pl.DataFrame) -> None:
        """Validate and atomically write shard `index`."""
        self._check_open()
        validate(frame, self.schema, where=f"{self.directory} shard {index}")
        tmp = self._path(index).with_suffix(".tmp")
        frame.write_parquet(tmp)
        tmp.rename(self._path(index))

    def finish(self, n_shards: int, meta: dict | None = None) -> pl.DataFrame:
        """Check all `n_shards` exist, drop extra ones, validate the whole, write the manifest,
        then replace the finished artifact by the new one and release the lock."""
        self._check_open()
        if n_shards == 0:
            raise ArtifactError(f"{self.directory}: nothing to write (the input has no rows)")
        missing = [i for i in range(n_shards) if not self.done(i)]
        if missing:
            raise ArtifactError(f"{self.directory}: shards {missing[:5]} were never written")
        for extra in self.work.glob("part-*.parquet"):
            if int(extra.stem.split("-")[1]) >= n_shards:
                extra.unlink()
        shards = [self._path(i) for i in range(n_shards)]
        if error := bad_shard(shards):  # a resumed shard may have been damaged since
            raise ArtifactError(f"{self.work} (unfinished {self.directory}): {error}")
        frame = pl.read_parquet(shards)
        validate(frame, self.schema, where=str(self.directory))
        manifest = manifest_for(frame, self.schema, self.fingerprint, meta)
        tmp = self.work / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        tmp.rename(self.work / MANIFEST)
        (self.work / SHARD_FINGERPRINT).unlink(missing_ok=True)
        swap_in([(self.work, self.directory)])
        self.close()
        return frame
