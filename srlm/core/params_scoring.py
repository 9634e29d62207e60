"""The params groups of scoring the loop's candidates: the judge (`judge`), the preference
pairs built from its scores (`pairs`) and the loop's monitors (`monitors`); see
srlm.core.params_models for how groups are read and checked. Import them from
`srlm.core.params`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from srlm.core.endpoint_url import url_problem
from srlm.core.params_loop import MAX_SAMPLES
from srlm.core.validation import (
    ParamsError,
    at_most,
    check,
    non_negative,
    positive,
    sampling,
    valid_seed,
    within,
)

PairMode = Literal["max_min", "anchored", "length_controlled"]
Scoring = Literal["sampled", "expected"]


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

    # The loop's judge through an OpenAI-compatible server (srlm.engines.chat_endpoint).
    endpoint: str | None = field(
        default=None,
        metadata={
            "help": (
                "The loop's judge on an OpenAI-compatible server instead of a local model, e.g. "
                "http://127.0.0.1:8000/v1 (vLLM) or a hosted https:// API (then endpoint_model "
                "too); judgments@ only. docs/judge.md."
            )
        },
    )
    endpoint_model: str | None = field(
        default=None, metadata={"help": "The model name the judge endpoint serves."}
    )
    api_key_env: str = field(
        default="OPENAI_API_KEY",
        metadata={"help": "Environment variable holding the judge endpoint's key (never params)."},
    )
    timeout_s: float = field(
        default=120.0,
        metadata={
            "help": (
                "Seconds one judge endpoint request (all its samples) may take in all: a "
                "deadline for connect, headers and reply, not a limit per read."
            )
        },
    )
    allow_insecure_http: bool = field(
        default=False,
        metadata={
            "help": (
                "Allow a plain http:// judge endpoint on another host than this one (the key "
                "and the candidates travel unencrypted); http to this machine is always allowed."
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
    concurrency: int = field(
        default=8,
        metadata={"help": "Judge endpoint requests in flight at once (within a shard)."},
    )
    retry_attempts: int = field(
        default=5,
        metadata={
            "help": (
                "Tries per judge endpoint request, the first included, on 429, 5xx, a "
                "connection error or the deadline; other errors stop at once."
            )
        },
    )
    retry_backoff_s: float = field(
        default=1.0,
        metadata={
            "help": (
                "Wait before the first retry, doubled at each next one (unless the server's "
                "Retry-After says how long), at most retry_max_wait_s."
            )
        },
    )
    retry_max_wait_s: float = field(
        default=60.0,
        metadata={"help": "The longest wait before a retry, Retry-After included."},
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

    def _check_endpoint(self) -> None:
        """The endpoint settings, checked whether or not an endpoint is set (a typo in a
        retry setting is an error before the day it is used)."""
        if self.endpoint is not None:
            problem = url_problem(self.endpoint, self.allow_insecure_http, "judge")
            check(self, problem is None, "endpoint", problem or "")
            check(
                self,
                bool(self.endpoint_model and self.endpoint_model.strip()),
                "endpoint_model",
                "must name the served model when judge.endpoint is set",
            )
            check(self, self.model is None, "model", "set judge.model or judge.endpoint, not both")
        check(
            self,
            self.endpoint_top_logprobs == 0 or 6 <= self.endpoint_top_logprobs <= 20,
            "endpoint_top_logprobs",
            f"must be 0 or within 6..20 (the six scores, OpenAI's limit of 20), "
            f"got {self.endpoint_top_logprobs!r}",
        )
        positive(self, "timeout_s", "concurrency", "retry_attempts")
        at_most(self, "concurrency", 1024, "requests in flight")
        at_most(self, "retry_attempts", 100, "tries per request")
        non_negative(self, "retry_backoff_s", "retry_max_wait_s")


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
