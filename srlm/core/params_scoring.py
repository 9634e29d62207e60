"""The params groups of scoring the loop's candidates: the judge (`judge`), the preference
pairs built from its scores (`pairs`) and the loop's monitors (`monitors`); see
srlm.core.params_models for how groups are read and checked. Import them from
`srlm.core.params`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from srlm.core.params_endpoint import EndpointSettings
from srlm.core.params_loop import MAX_SAMPLES
from srlm.core.validation import (
    ParamsError,
    at_most,
    check,
    positive,
    sampling,
    valid_seed,
    within,
)

PairMode = Literal["max_min", "anchored", "length_controlled"]
Scoring = Literal["sampled", "expected"]


@dataclass(frozen=True)
class JudgeParams(EndpointSettings):
    """Stage `judgments@<iter>`: K judge samples per candidate with the paper's prompt (a
    local model, or an OpenAI-compatible server: `EndpointSettings`)."""

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
    endpoint_top_logprobs: int = field(
        default=20,
        metadata={
            "help": (
                "Top logprobs asked for per token, 6..20, for the score probabilities (expected "
                "scoring); 0 = ask for none (servers that refuse logprobs): expected scores are "
                "then null."
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
        self._check_endpoint()
        check(
            self,
            self.endpoint_top_logprobs == 0 or 6 <= self.endpoint_top_logprobs <= 20,
            "endpoint_top_logprobs",
            f"must be 0 or within 6..20 (the six scores, OpenAI's limit of 20), "
            f"got {self.endpoint_top_logprobs!r}",
        )


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
