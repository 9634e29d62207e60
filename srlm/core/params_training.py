"""The params groups of training: `sft` and `dpo` (both `TrainingParams`) and their `lora`, as
frozen dataclasses: keys, types, defaults and help texts, like the other groups
(`srlm.core.params_models` says how they are read and checked). Import them from
`srlm.core.params`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from srlm.core.params_models import Precision
from srlm.core.validation import (
    check,
    positive,
    valid_seed,
)

# transformers' SchedulerType values that need no extra arguments (srlm sets no warmup).
LrScheduler = Literal[
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
]


@dataclass(frozen=True)
class LoraParams:
    """LoRA adapters, merged into the model before it is saved."""

    _group: ClassVar[str] = "lora"
    enabled: bool = field(
        default=False,
        metadata={"help": ("Train LoRA adapters instead of every weight (off: full fine-tuning).")},
    )
    r: int = field(default=16, metadata={"help": "LoRA rank."})
    alpha: int = field(
        default=32, metadata={"help": "LoRA alpha (the update is scaled by alpha / r)."}
    )
    dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA layers."})
    target_modules: str = field(
        default="all-linear",
        metadata={
            "help": (
                "Modules that get adapters, as peft's target_modules (all-linear: every linear "
                "layer but the output head)."
            )
        },
    )

    def __post_init__(self):
        positive(self, "r", "alpha")
        check(self, 0 <= self.dropout < 1, "dropout", f"must be within 0..1, got {self.dropout!r}")


@dataclass(frozen=True)
class TrainingParams:
    """What SFT and DPO share: the Trainer's arguments (defaults are SFT's)."""

    _group: ClassVar[str] = "training"
    epochs: float = field(
        default=1.0,
        metadata={"help": ("Passes over the training data (a fraction trains on part of it).")},
    )
    learning_rate: float = field(
        default=1e-4, metadata={"help": ("Peak learning rate (paper SFT: 5.5e-6).")}
    )
    lr_scheduler: LrScheduler = field(
        default="linear",
        metadata={
            "help": (
                "Learning-rate schedule, transformers' lr_scheduler_type, without warmup: linear "
                "decays to 0 (the paper's decaying rate)."
            )
        },
    )
    batch_size: int = field(
        default=8, metadata={"help": ("Examples per device and step (paper: 16).")}
    )
    grad_accum: int = field(
        default=1,
        metadata={
            "help": (
                "Gradient accumulation steps: the effective batch is batch_size x grad_accum x "
                "devices."
            )
        },
    )
    max_length: int = field(
        default=1024,
        metadata={
            "help": ("Longest example in tokens: SFT drops longer ones (counted, never cut).")
        },
    )
    precision: Precision = field(
        default="auto",
        metadata={"help": ("auto = bf16 when the CPU/GPU supports it, else fp32; or bf16 / fp32.")},
    )
    logging_steps: int = field(
        default=1,
        metadata={"help": ("Log the loss every this many steps (the loss curve in metrics/).")},
    )
    random_seed: int = field(
        default=0,
        metadata={
            "help": (
                "Random seed of the Trainer (initialisation, data order): its seed and data_seed."
            )
        },
    )
    lora: LoraParams = field(
        default_factory=LoraParams, metadata={"help": ("LoRA adapters (off by default).")}
    )

    def __post_init__(self):
        positive(
            self,
            "epochs",
            "learning_rate",
            "batch_size",
            "grad_accum",
            "max_length",
            "logging_steps",
        )
        valid_seed(self)


@dataclass(frozen=True)
class SFTParams(TrainingParams):
    """Stage `sft`: M0 + IFT + EFT -> M1 with TRL's SFTTrainer (loss on answers only)."""

    _group: ClassVar[str] = "sft"


@dataclass(frozen=True)
class DPOParams(TrainingParams):
    """Stage `dpo@<iter>`: DPO from the iteration's base model (also the reference)."""

    _group: ClassVar[str] = "dpo"
    learning_rate: float = field(
        default=5e-6, metadata={"help": ("Peak learning rate (paper: 1e-6).")}
    )
    batch_size: int = field(
        default=4, metadata={"help": ("Preference pairs per device and step (paper: 16).")}
    )
    max_length: int = field(
        default=768,
        metadata={
            "help": (
                "Longest prompt + response in tokens: TRL truncates longer pairs (keeping the "
                "start)."
            )
        },
    )
    beta: float = field(
        default=0.1,
        metadata={
            "help": ("DPO's beta: how far the policy may move from the reference (paper: 0.1).")
        },
    )

    def __post_init__(self):
        super().__post_init__()
        positive(self, "beta")
