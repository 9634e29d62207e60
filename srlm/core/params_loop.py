"""The params groups of the self-rewarding loop: new prompts, their candidates and the iterations
(see srlm.core.params_models; judging, pairs and monitors are in srlm.core.params_scoring, the
evaluation's groups in srlm.core.params_eval).

Import them from `srlm.core.params`, which also holds `Params`, the whole file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from srlm.core.validation import (
    NAME,
    NAME_RULE,
    ParamsError,
    at_most,
    check,
    non_negative,
    positive,
    sampling,
    valid_seed,
    within,
)

# Upper bounds of counts that multiply the work (a typo such as 4000 would otherwise run
# for days before anyone notices).
MAX_SAMPLES = 64
MAX_GENERATE = 1_000_000
BUILT_MODELS = {"m0": "base", "m1": "sft"}  # models built outside the loop, by these stages


@dataclass(frozen=True)
class PromptsParams:
    """Stage `prompts@<iter>`: self-instruct new prompts with the iteration's base model."""

    _group: ClassVar[str] = "prompts"
    n_generate: int = field(
        default=40, metadata={"help": ("Generations asked for, before filtering.")}
    )
    n_keep: int = field(default=16, metadata={"help": "At most this many prompts are kept."})
    fewshot_from_seed: int = field(
        default=6,
        metadata={"help": ("Few-shot examples from the IFT prompts in each request (paper: 6).")},
    )
    fewshot_generated: int = field(
        default=2,
        metadata={"help": ("...plus this many prompts accepted earlier in the stage (paper: 2).")},
    )
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature."})
    top_p: float = field(default=0.9, metadata={"help": "Nucleus sampling: top-p."})
    max_new_tokens: int = field(
        default=64, metadata={"help": ("Longest generated prompt in tokens.")}
    )
    min_words: int = field(default=4, metadata={"help": "Shorter prompts are dropped."})
    max_words: int = field(default=80, metadata={"help": "Longer prompts are dropped."})
    max_rouge_l: float = field(
        default=0.7,
        metadata={
            "help": (
                "Near-duplicate threshold: a prompt whose ROUGE-L against any known prompt is "
                "above "
                "this is dropped."
            )
        },
    )
    banned_keywords: tuple[str, ...] = field(
        default=(
            "image",
            "images",
            "graph",
            "graphs",
            "picture",
            "pictures",
            "file",
            "files",
            "map",
            "maps",
            "draw",
            "plot",
            "go to",
            "video",
            "audio",
        ),
        metadata={
            "help": "Prompts with one of these words (things a text model cannot do) are dropped."
        },
    )
    random_seed: int = field(
        default=0, metadata={"help": ("Random seed of the few-shot picks and of the sampling.")}
    )
    round_size: int = field(
        default=256,
        metadata={
            "help": (
                "Requests sent to the engine at once. Prompts accepted in a round are few-shot "
                "examples from the next round on; large rounds keep vLLM's continuous batch full."
            )
        },
    )

    def __post_init__(self):
        positive(self, "n_generate", "n_keep", "max_new_tokens", "max_words", "round_size")
        non_negative(self, "fewshot_from_seed", "fewshot_generated", "min_words")
        at_most(self, "n_generate", MAX_GENERATE, "generations asked for")
        check(
            self,
            self.min_words <= self.max_words,
            "min_words",
            f"must be <= prompts.max_words ({self.max_words}), got {self.min_words}",
        )
        within(self, "max_rouge_l", 0.0, 1.0)
        sampling(self)
        valid_seed(self)


@dataclass(frozen=True)
class CandidatesParams:
    """Stage `candidates@<iter>`: N sampled responses per prompt."""

    _group: ClassVar[str] = "candidates"
    n: int = field(default=4, metadata={"help": "Responses sampled per prompt (paper: 4)."})
    temperature: float = field(
        default=0.7, metadata={"help": ("Sampling temperature (paper: 0.7).")}
    )
    top_p: float = field(default=0.9, metadata={"help": "Nucleus sampling: top-p (paper: 0.9)."})
    max_new_tokens: int = field(default=192, metadata={"help": ("Longest response in tokens.")})
    shard_size: int = field(default=8, metadata={"help": "Prompts per resumable shard."})
    random_seed: int = field(
        default=0,
        metadata={
            "help": ("Random seed of the sampling (one seed per request, derived from this).")
        },
    )

    def __post_init__(self):
        positive(self, "n", "max_new_tokens", "shard_size")
        at_most(self, "n", MAX_SAMPLES, "responses per prompt")
        sampling(self)
        valid_seed(self)


@dataclass(frozen=True)
class IterationSpec:
    """One self-rewarding iteration: which model it starts from."""

    _group: ClassVar[str] = "iterations"
    base: str = field(
        metadata={
            "help": (
                "The model the iteration starts from: its generator, judge, DPO policy and "
                "reference."
            )
        }
    )


def check_iterations(iterations: dict[str, IterationSpec]) -> None:
    """Names are plain folder names; each base is m0, m1 or another iteration; no cycles."""
    for name, spec in iterations.items():
        where = f"iterations.{name}"
        if not NAME.fullmatch(name):
            raise ParamsError(
                f"iterations: {name!r} is not a valid iteration name "
                f"({NAME_RULE}): it becomes a folder and a stage name"
            )
        if name in BUILT_MODELS:
            raise ParamsError(
                f"{where}: {name} is built by the {BUILT_MODELS[name]} stage, "
                "not by an iteration; name the iteration m2, m3, ..."
            )
        if spec.base == name:
            raise ParamsError(f"{where}.base: an iteration cannot start from itself")
        if spec.base not in BUILT_MODELS and spec.base not in iterations:
            known = ", ".join([*BUILT_MODELS, *(i for i in iterations if i != name)])
            raise ParamsError(
                f"{where}.base: '{spec.base}' is neither m0, m1 nor another "
                f"iteration (expected one of: {known})"
            )
    for name in iterations:
        path, base = [name], iterations[name].base
        while base in iterations:
            if base in path:
                raise ParamsError(
                    f"iterations.{name}.base: a cycle ("
                    f"{' -> '.join([*path, base])}); every iteration must lead "
                    "back to m0 or m1"
                )
            path.append(base)
            base = iterations[base].base
