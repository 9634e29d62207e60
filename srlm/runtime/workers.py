"""Data-parallel shards: N engine replicas build a stage's shards, locally or on Ray.

A sharded stage hands `run_shards` a *task*: a picklable callable `task(shard) -> frame` that
loads its engine on first use (a `ShardTask`, e.g. `srlm.loop.sampling.CandidateTask`). Shard
`i` always goes to worker `i mod N` (`shard_owner`), each worker builds its shards in order, and
every shard is built exactly as one process builds it (same requests, same engine batches), so
the artifact does not depend on N. Requests are seeded by their identity (`request_seed`),
never by worker.

- `scale.workers: 1`: the task runs in this process.
- `cluster: local`: N spawned processes, worker k pinned to GPUs `k*tp .. k*tp+tp-1` (tp =
  `engine.tensor_parallel_size`) through CUDA_VISIBLE_DEVICES; on CPUs they share the cores,
  each with this process's thread count (see `worker_environments`).
- `cluster: ray`: N Ray actors, each asking Ray for `tp` GPUs (or its share of CPUs); Ray
  places them on the cluster's nodes and sets their devices.

Frames come back to this process, which alone writes shards (`ShardWriter`), so resuming
after `kill -9` works per shard whatever the number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import polars as pl

from srlm.core.errors import SrlmError
from srlm.core.lifetime import die_with_parent

Task = Callable[[Sequence[Any]], pl.DataFrame]


class ShardTask:
    """A picklable `task(shard_items) -> frame` that loads its generator on first use.

    `recipe` is anything with a `load()` that returns a generator and pickles small (an
    `srlm.engines.EngineRecipe`: model path and engine params); a worker loads it on the first
    shard it builds and keeps it. Subclasses implement `build(items)` with `self.generator`.
    """

    def __init__(self, recipe):
        self.recipe = recipe
        self._generator = None

    @property
    def generator(self):
        """Loaded once per process: a rerun whose shards are all done never loads it."""
        if self._generator is None:
            self._generator = self.recipe.load()
        return self._generator

    def prepare(self) -> None:
        """Load the generator now (in this process), so that a broken model is reported
        before any progress is shown."""
        _ = self.generator

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_generator": None}  # each worker loads its own

    def __call__(self, items: Sequence[Any]) -> pl.DataFrame:
        return self.build(items)

    def build(self, items: Sequence[Any]) -> pl.DataFrame:
        raise NotImplementedError


def shard_owner(index: int, workers: int) -> int:
    """The worker that builds shard `index`: fixed, whatever else is done or pending."""
    return index % workers


def device_groups(workers: int, per_worker: int, visible: Sequence[str]) -> list[str]:
    """CUDA_VISIBLE_DEVICES of each worker: consecutive groups of `per_worker` devices."""
    if workers * per_worker > len(visible):
        raise SrlmError(
            f"scale.workers: {workers} workers x engine.tensor_parallel_size "
            f"{per_worker} need {workers * per_worker} GPUs, {len(visible)} visible"
        )
    return [",".join(visible[k * per_worker : (k + 1) * per_worker]) for k in range(workers)]


def worker_environments(workers: int, tensor_parallel: int) -> list[dict[str, str]]:
    """What each local worker sets before it imports torch: its GPUs; on a CPU machine, the
    thread count of this process. (CPU kernels split their sums by thread, so a worker with
    fewer threads rounds differently: sharing the cores keeps the artifact the same, and
    makes local CPU workers no faster than one process. They pay off with GPUs and on Ray.)"""
    import torch  # only to count devices; the workers import it again, after their setting

    if torch.cuda.is_available():
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        devices = (
            visible.split(",") if visible else [str(i) for i in range(torch.cuda.device_count())]
        )
        return [
            {"CUDA_VISIBLE_DEVICES": group}
            for group in device_groups(workers, tensor_parallel, devices)
        ]
    return [{"OMP_NUM_THREADS": str(torch.get_num_threads())} for _ in range(workers)]


def run_shards(
    task: Task, shards: dict[int, Sequence[Any]], scale, tensor_parallel: int = 1
) -> Iterator[tuple[int, pl.DataFrame]]:
    """Build `shards` (index -> items) with `task` as `scale` (a `ScaleParams`) says: an
    iterator of (index, frame) as shards finish, in an order that depends on timing only.

    In this process the task's model loads now (`prepare`), before the caller shows progress,
    so a broken model is one line and nothing else."""
    if scale.workers == 1 or len(shards) == 0:
        if shards and hasattr(task, "prepare"):
            task.prepare()
        return ((index, task(shards[index])) for index in sorted(shards))
    if scale.cluster == "ray":
        from srlm.runtime.ray_workers import run_on_ray

        return run_on_ray(task, shards, scale, tensor_parallel)
    return _run_local(
        task, shards, scale.workers, worker_environments(scale.workers, tensor_parallel)
    )


def _run_local(
    task: Task, shards: dict[int, Sequence[Any]], workers: int, environments: list[dict[str, str]]
) -> Iterator[tuple[int, pl.DataFrame]]:
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing CUDA forked
    results = context.Queue()
    blob = pickle.dumps(task)
    processes = []
    for k in range(workers):
        mine = {i: items for i, items in sorted(shards.items()) if shard_owner(i, workers) == k}
        if mine:
            process = context.Process(
                target=_worker_main,
                name=f"srlm-worker-{k}",
                args=(k, blob, mine, environments[k], results),
            )
            process.start()
            processes.append(process)
    try:
        for _ in range(len(shards)):
            kind, index, payload = _next_result(results, processes)
            if kind == "error":
                raise SrlmError(f"worker {shard_owner(index, workers)} (shard {index}): {payload}")
            yield index, payload
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()


def _next_result(results, processes):
    """The next message of any worker; a worker that died without one is an error."""
    while True:
        try:
            return results.get(timeout=1.0)
        except queue.Empty:
            for process in processes:
                if process.exitcode not in (None, 0):
                    raise SrlmError(
                        f"{process.name} died (exit code {process.exitcode}) "
                        "before its shards were done"
                    ) from None


def _worker_main(k: int, blob: bytes, shards: dict, environment: dict, results) -> None:
    die_with_parent()  # a `kill -9` of the stage must not leave workers generating
    os.environ.update(environment)
    task = pickle.loads(blob)  # after the settings: the task imports torch on first use
    index = None
    try:
        for index, items in shards.items():
            results.put(("done", index, task(items)))
    except Exception as err:  # reported to the parent as one line, which stops the run
        import traceback

        from srlm.core.console import error_line

        line = error_line(err, f"worker {k}") or traceback.format_exc()  # SRLM_DEBUG: all
        results.put(("error", index, line.removeprefix("error: ")))
