"""The params group of multi-process training: how `sft` and `dpo@<iter>` are launched.

Kept apart from `srlm.core.params` (the groups of what is trained) because none of these
values changes what is built: the same params with 1 or 8 processes train the same model, up
to float rounding (the global batch is fixed, see `srlm.training.launch`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from srlm.core.params import _positive, _require


@dataclass(frozen=True)
class AccelerateConfig:
    """How sft and dpo run: in this process, or under `accelerate launch` with N processes."""

    _group: ClassVar[str] = "accelerate"
    processes: int = field(default=1, metadata={"help": (
        "Training processes on all machines together: 1 = the stage's own process; more = "
        "`accelerate launch` (one per GPU; on CPUs, gloo). The global batch (batch_size x "
        "grad_accum) is divided over them, so the model does not change.")})
    machines: int = field(default=1, metadata={"help": (
        "Machines the processes are spread over (the config file names the main one).")})
    config_file: str | None = field(default=None, metadata={"help": (
        "An accelerate config: accelerate/ddp.yaml, fsdp.yaml or zero3.yaml, or your own; "
        "null = plain data parallel (DDP).")})

    def __post_init__(self):
        _positive(self, "processes", "machines")
        _require(self, self.processes % self.machines == 0, "processes",
                 f"{self.processes} processes do not split evenly over {self.machines} machines")
