"""The params groups of the self-rewarding loop (see srlm.core.params_models; the evaluation's
are in srlm.core.params_eval).

Import them from `srlm.core.params`, which also holds `Params`, the whole file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

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
PairMode = Literal["max_min", "anchored", "length_controlled"]
Scoring = Literal["sampled", "expected"]


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
class JudgeParams:
    """Stage `judgments@<iter>`: K judge samples per candidate with the paper's prompt."""

    _group: ClassVar[str] = "judge"
    samples: int = field(
        default=3, metadata={"help": ("Judge samples per candidate, averaged (paper: 3).")}
    )
    temperature: float = field(
        default=0.7, metadata={"help": ("Sampling temperature (paper: 0.7).")}
    )
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling: top-p."})
    max_new_tokens: int = field(
        default=32,
        metadata={
            "help": (
                "Longest judgment in tokens: a score_only judge writes ~5 tokens; use 128+ with "
                "seed.eft_target justified."
            )
        },
    )
    shard_size: int = field(default=16, metadata={"help": "Candidates per resumable shard."})
    random_seed: int = field(
        default=0,
        metadata={
            "help": ("Random seed of the sampling (one seed per request, derived from this).")
        },
    )
    scoring: Scoring = field(
        default="sampled",
        metadata={
            "help": (
                "sampled: the number the judge wrote (the paper); expected: the expectation of its "
                "probabilities for 0..5 at that position. Both are always computed and reported."
            )
        },
    )
    model: str | None = field(
        default=None,
        metadata={
            "help": (
                "The loop's judge: empty = the iteration's own base model (the paper); or a local "
                "model directory, an external (teacher) judge for small models. Its files' hash "
                "is in "
                "the fingerprints; DVC sees the path as a param only, so after changing the files "
                "in "
                "place run `dvc repro -f judgments@<iter>`."
            )
        },
    )
    agreement_sample: int = field(
        default=16,
        metadata={
            "help": (
                "With an external judge: candidates the iteration's own model also judges (a "
                "seeded "
                "sample), for the self-vs-external agreement in the judgments metrics; 1..10000."
            )
        },
    )

    def __post_init__(self):
        within(self, "agreement_sample", 1, 10_000)
        if self.model is not None and not self.model.strip():
            raise ParamsError(
                "judge.model: empty; leave it out (null) to use the iteration's own model"
            )
        positive(self, "samples", "max_new_tokens", "shard_size")
        at_most(self, "samples", MAX_SAMPLES, "judge samples per candidate")
        sampling(self)
        valid_seed(self)


@dataclass(frozen=True)
class PairsParams:
    """Stage `pairs@<iter>`: which (best, worst) pairs are kept."""

    _group: ClassVar[str] = "pairs"
    min_margin: float = field(
        default=0.0,
        metadata={
            "help": (
                "Drop a prompt whose best and worst scores differ by less than this, 0..5 (0 = "
                "drop "
                "exact ties only, the paper's rule)."
            )
        },
    )
    mode: PairMode = field(
        default="max_min",
        metadata={
            "help": (
                "max_min: best vs worst candidate (the paper). anchored: the rejected answer is "
                "M1's "
                "candidate for the prompt when the judge scores it below the iteration's worst "
                "(Temporal Self-Rewarding). length_controlled: the shortest candidate within "
                "length_epsilon of the top score is chosen (Meta-Rewarding, DICE)."
            )
        },
    )
    length_epsilon: float = field(
        default=0.5,
        metadata={
            "help": (
                "length_controlled: candidates this close to the top score (0..5) count as top."
            )
        },
    )

    def __post_init__(self):
        within(self, "min_margin", 0.0, 5.0)
        within(self, "length_epsilon", 0.0, 5.0)


@dataclass(frozen=True)
class MonitorsParams:
    """Stage `monitors@<iter>`: the loop's failure modes (srlm/evaluation/monitors.py)."""

    _group: ClassVar[str] = "monitors"
    consistency_sample: int = field(
        default=16,
        metadata={
            "help": (
                "Candidates of the iteration that the model it trained re-judges (with the `judge` "
                "params) for judge_consistency_tau, a seeded sample; 1..10000."
            )
        },
    )
    random_seed: int = field(default=0, metadata={"help": "Seed of that sample."})

    def __post_init__(self):
        within(self, "consistency_sample", 1, 10_000)
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
