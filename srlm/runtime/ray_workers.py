"""Shards as tasks on a Ray cluster (`scale.cluster: ray`, the `ray` extra).

One Ray actor per worker holds its engine for the whole stage; shard `i` is submitted to actor
`i mod N` (`shard_owner`), and an actor runs its calls in submission order, so the map is as
fixed as with local workers. Each actor asks Ray for `engine.tensor_parallel_size` GPUs (Ray
sets its CUDA_VISIBLE_DEVICES) or, on CPU-only clusters, one CPU of Ray's accounting with
this process's thread count; Ray places the actors on the cluster's nodes. Frames come back to
this process, which alone writes the artifact, so the nodes need the model folder at the same
path but no shared output storage.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator, Sequence
from typing import Any

import polars as pl

from srlm.core.errors import SrlmError
from srlm.runtime.workers import Task, shard_owner


class ShardActor:
    """A Ray actor's body: one task (and the engine it loads) for the stage's lifetime."""

    def __init__(self, blob: bytes):
        self.task = pickle.loads(blob)

    def build(self, index: int, items: Sequence[Any]) -> tuple[int, pl.DataFrame]:
        return index, self.task(items)


def connect(address: str | None):
    """The `ray` module, connected: to `address`, else RAY_ADDRESS, else a new local instance."""
    try:
        import ray
    except ImportError:
        raise SrlmError(
            "scale.cluster is 'ray' but ray is not installed: pip install 'srlm[ray]'"
        ) from None
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS")
        # a local instance gets only what this stage needs: no dashboard, quiet logs
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            **({} if address else {"num_cpus": os.cpu_count()}),
        )
    return ray


def run_on_ray(
    task: Task, shards: dict[int, Sequence[Any]], scale, tensor_parallel: int
) -> Iterator[tuple[int, pl.DataFrame]]:
    """Build `shards` on `scale.workers` Ray actors; yields (index, frame) as they finish."""
    import torch

    ray = connect(scale.ray_address)
    gpus = tensor_parallel if ray.cluster_resources().get("GPU", 0) else 0
    # Ray gives a CPU actor one thread; CPU kernels round by thread count, so it gets this
    # process's count (the same artifact as one process on a node like this one)
    threads = {} if gpus else {"env_vars": {"OMP_NUM_THREADS": str(torch.get_num_threads())}}
    actor_class = ray.remote(num_gpus=gpus, num_cpus=0 if gpus else 1, runtime_env=threads or None)(
        ShardActor
    )
    blob = pickle.dumps(task)
    actors = [actor_class.remote(blob) for _ in range(scale.workers)]
    pending = [
        actors[shard_owner(index, scale.workers)].build.remote(index, items)
        for index, items in sorted(shards.items())
    ]
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                yield ray.get(done[0])
            except ray.exceptions.RayError as err:
                cause = getattr(err, "cause", None) or err
                raise SrlmError(
                    f"ray worker: {type(cause).__name__}: {str(cause).strip().splitlines()[-1]}"
                ) from None
    finally:
        for actor in actors:
            ray.kill(actor)
