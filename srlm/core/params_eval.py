"""The params groups of the evaluation (see srlm.core.params_models): which models, the
held-out prompts, IFEval, and the fixed evaluator of comparisons.

Import them from `srlm.core.params`, which also holds `Params`, the whole file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from srlm.core.endpoint_url import url_problem
from srlm.core.validation import NAME, NAME_RULE, check, non_negative, positive, valid_seed


@dataclass(frozen=True)
class EvaluationParams:
    """Evaluation stages: which models, which held-out prompts, how long the answers.

    The judge evaluation (`evaluate_judge@<m>`) judges every EFT-eval reply with the loop's
    `judge` params (K samples, averaged); its size is `seed.eft_eval_size`. The prompt files
    (oasst1 validation, MT-Bench questions, other prompt lists) are wired in dvc.yaml.
    """

    _group: ClassVar[str] = "evaluation"
    models: tuple[str, ...] = field(
        default=("m0", "m1", "m2", "m3"),
        metadata={
            "help": (
                "Every model evaluated: m0 (base), m1 (SFT) and each iteration of `iterations` "
                "(add m4 here when you add it there)."
            )
        },
    )
    reference_limit: int = field(
        default=12,
        metadata={
            "help": (
                "Prompts with a reference answer, a seeded sample: oasst1-validation prompts with "
                "their best human reply (Apache-2.0, in the repository), or AlpacaEval's when "
                "`alpaca_eval` is set."
            )
        },
    )
    alpaca_eval: str | None = field(
        default=None,
        metadata={
            "help": (
                "AlpacaEval outputs (a local .json or hf://...; CC BY-NC, never shipped): when "
                "set, "
                "its instructions with their reference outputs (e.g. GPT-4 Turbo's) replace the "
                "oasst1 references, and the seed stage decontaminates against it."
            )
        },
    )
    alpaca_eval_datasets: tuple[str, ...] = field(
        default=("oasst",), metadata={"help": ("AlpacaEval subsets to sample from; [] = all five.")}
    )
    mt_bench_limit: int = field(default=6, metadata={"help": "MT-Bench first turns."})
    prompts_limit: int = field(
        default=12,
        metadata={"help": ("Prompts from any other file given to eval_prompts (none by default).")},
    )
    max_new_tokens: int = field(
        default=192, metadata={"help": ("Longest answer in tokens (answers are greedy).")}
    )
    shard_size: int = field(
        default=256,
        metadata={
            "help": (
                "Prompts (answers@) or replies (evaluate_judge@) per shard: the unit of work of a "
                "`scale.workers` worker."
            )
        },
    )
    random_seed: int = field(
        default=0, metadata={"help": ("Random seed of the evaluation prompt samples.")}
    )

    def __post_init__(self):
        check(self, len(self.models) > 0, "models", "must name at least one model")
        for model in self.models:
            check(
                self,
                bool(NAME.fullmatch(model)),
                "models",
                f"'{model}' is not a valid model name ({NAME_RULE})",
            )
        positive(self, "max_new_tokens", "shard_size")
        non_negative(self, "reference_limit", "mt_bench_limit", "prompts_limit")
        valid_seed(self)


@dataclass(frozen=True)
class EvaluatorParams:
    """The fixed evaluator of head-to-head and reference comparisons (one per run)."""

    _group: ClassVar[str] = "evaluator"
    model: str = field(
        default="data/models/m1",
        metadata={"help": ("A local model directory (a DVC dependency; m1's judge by default)...")},
    )
    endpoint: str | None = field(
        default=None,
        metadata={
            "help": (
                "...or an OpenAI-compatible URL, e.g. http://host:8000/v1 (then endpoint_model "
                "too). The paper used GPT-4."
            )
        },
    )
    endpoint_model: str | None = field(
        default=None, metadata={"help": ("The model name the endpoint serves.")}
    )
    api_key_env: str = field(
        default="OPENAI_API_KEY",
        metadata={"help": ("Environment variable holding the endpoint's key.")},
    )
    timeout_s: float = field(
        default=60.0,
        metadata={
            "help": (
                "Seconds one endpoint request may take in all (connect, headers and reply: a "
                "deadline, not a limit per read)."
            )
        },
    )
    allow_insecure_http: bool = field(
        default=False,
        metadata={
            "help": (
                "Allow a plain http:// endpoint on another host than this one (the key and the "
                "comparisons travel unencrypted); http to localhost/127.0.0.0/8/::1 is always "
                "allowed."
            )
        },
    )

    def __post_init__(self):
        if self.endpoint is not None:
            # the rules the request code enforces, as one line at params time (no request)
            problem = url_problem(self.endpoint, self.allow_insecure_http, "evaluator")
            check(self, problem is None, "endpoint", problem or "")
            check(
                self,
                bool(self.endpoint_model),
                "endpoint_model",
                "must name the served model when evaluator.endpoint is set",
            )
        positive(self, "timeout_s")


@dataclass(frozen=True)
class IFEvalParams:
    """Stage `ifeval@<model>`: judge-free instruction following (IFEval, Zhou et al. 2023).

    Each model answers IFEval prompts greedily through its chat template and code checks every
    instruction (srlm/evaluation/ifeval.py). lm-evaluation-harness's `ifeval` task answers all
    541 prompts with up to 1,280 new tokens; the default run takes a seeded sample at a shorter
    cap to stay within minutes on a CPU (its metrics say what that sample can detect).
    """

    _group: ClassVar[str] = "ifeval"
    limit: int = field(
        default=64,
        metadata={
            "help": (
                "IFEval prompts each model answers, a seeded sample of the 541 (the same prompts "
                "for "
                "every model, so differences are paired); 0 = all 541."
            )
        },
    )
    max_new_tokens: int = field(
        default=384,
        metadata={
            "help": (
                "Longest answer in tokens (greedy). lm-evaluation-harness uses 1280; a cut answer "
                "still counts, as it does there."
            )
        },
    )
    random_seed: int = field(default=0, metadata={"help": "Seed of the prompt sample."})

    def __post_init__(self):
        non_negative(self, "limit")
        positive(self, "max_new_tokens")
        valid_seed(self)
