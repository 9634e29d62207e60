"""The params groups of scale: where generation runs (`scale`) and how training is launched
(`accelerate`).

Kept apart from `srlm.core.params_models` (the groups of what is built) because none of these values
changes an artifact: 1 or 8 generation workers write the same bytes (`srlm.runtime.workers`), 1
or 8 training processes train the same model up to float rounding (the global batch is fixed,
see `srlm.training.launch`). No stage lists these groups as params deps in dvc.yaml, and no
fingerprint holds them, so changing them rebuilds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from srlm.core.validation import check, positive

Cluster = Literal["local", "ray"]


@dataclass(frozen=True)
class ScaleParams:
    """Where generation runs: N engine replicas on this machine or as tasks on a Ray cluster."""

    _group: ClassVar[str] = "scale"
    workers: int = field(
        default=1,
        metadata={
            "help": (
                "Engine replicas that build a stage's shards in parallel, each on its own device "
                "group "
                "(engine.tensor_parallel_size GPUs; on CPUs, a share of the cores). Shard i goes "
                "to "
                "worker i mod workers; the artifact is the same for any number."
            )
        },
    )
    cluster: Cluster = field(
        default="local",
        metadata={
            "help": (
                "local = worker processes on this machine; ray = Ray actors (the `ray` extra) on "
                "the "
                "cluster at ray_address."
            )
        },
    )
    ray_address: str | None = field(
        default=None,
        metadata={
            "help": (
                "Ray cluster address (ray://host:10001 or auto); null = RAY_ADDRESS, else a Ray "
                "instance started on this machine."
            )
        },
    )

    def __post_init__(self):
        positive(self, "workers")


@dataclass(frozen=True)
class AccelerateParams:
    """How sft and dpo run: in this process, or under `accelerate launch` with N processes."""

    _group: ClassVar[str] = "accelerate"
    processes: int = field(
        default=1,
        metadata={
            "help": (
                "Training processes on all machines together: 1 = the stage's own process; more = "
                "`accelerate launch` (one per GPU; on CPUs, gloo). The global batch (batch_size x "
                "grad_accum) is divided over them, so the model does not change."
            )
        },
    )
    machines: int = field(
        default=1,
        metadata={
            "help": ("Machines the processes are spread over (the config file names the main one).")
        },
    )
    config_file: str | None = field(
        default=None,
        metadata={
            "help": (
                "An accelerate config: accelerate/ddp.yaml, fsdp.yaml or zero3.yaml, or your own; "
                "null = plain data parallel (DDP)."
            )
        },
    )

    def __post_init__(self):
        positive(self, "processes", "machines")
        check(
            self,
            self.processes % self.machines == 0,
            "processes",
            f"{self.processes} processes do not split evenly over {self.machines} machines",
        )
