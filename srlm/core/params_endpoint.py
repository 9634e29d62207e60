"""What a model behind an OpenAI-compatible server needs (`EndpointSettings`: URL, model,
key variable, deadline, concurrency, retries), shared by the loop's judge (`judge`, in
srlm.core.params_scoring) and the EFT teacher (`teacher`, below), which writes the judge's
rationales for the seed's ranked replies (`seed.eft_mode: model_rationales`). See
srlm.core.params_models for how groups are read and checked; import them from
`srlm.core.params`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from srlm.core.endpoint_url import url_problem
from srlm.core.validation import (
    ParamsError,
    at_most,
    check,
    non_negative,
    positive,
    sampling,
    valid_seed,
)

# The settings that decide only how requests travel (never what a model writes): left out of
# every fingerprint. `endpoint` and `endpoint_model` are identity, which a stage adds itself.
TRANSPORT_KEYS = (
    "api_key_env",
    "timeout_s",
    "allow_insecure_http",
    "concurrency",
    "retry_attempts",
    "retry_backoff_s",
    "retry_max_wait_s",
)


@dataclass(frozen=True)
class EndpointSettings:
    """A model on an OpenAI-compatible server (srlm.engines.chat_endpoint), instead of a
    local `model` folder; a group's `endpoint` and `model` exclude each other."""

    endpoint: str | None = field(
        default=None,
        metadata={
            "help": (
                "An OpenAI-compatible server instead of a local model, e.g. "
                "http://127.0.0.1:8000/v1 (vLLM) or a hosted https:// API (then endpoint_model "
                "too). docs/judge.md."
            )
        },
    )
    endpoint_model: str | None = field(
        default=None, metadata={"help": "The model name the endpoint serves."}
    )
    api_key_env: str = field(
        default="OPENAI_API_KEY",
        metadata={"help": "Environment variable holding the endpoint's key (never params)."},
    )
    timeout_s: float = field(
        default=120.0,
        metadata={
            "help": (
                "Seconds one endpoint request (all its samples) may take in all: a "
                "deadline for connect, headers and reply, not a limit per read."
            )
        },
    )
    allow_insecure_http: bool = field(
        default=False,
        metadata={
            "help": (
                "Allow a plain http:// endpoint on another host than this one (the key "
                "and the texts travel unencrypted); http to this machine is always allowed."
            )
        },
    )
    concurrency: int = field(
        default=8,
        metadata={"help": "Endpoint requests in flight at once (within a shard)."},
    )
    retry_attempts: int = field(
        default=5,
        metadata={
            "help": (
                "Tries per endpoint request, the first included, on 429, 5xx, a "
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

    def _check_endpoint(self) -> None:
        """The endpoint settings, checked whether or not an endpoint is set (a typo in a
        retry setting is an error before the day it is used)."""
        group = getattr(self, "_group", "endpoint")
        if self.endpoint is not None:
            problem = url_problem(self.endpoint, self.allow_insecure_http, group)
            check(self, problem is None, "endpoint", problem or "")
            check(
                self,
                bool(self.endpoint_model and self.endpoint_model.strip()),
                "endpoint_model",
                f"must name the served model when {group}.endpoint is set",
            )
            check(
                self,
                getattr(self, "model", None) is None,
                "model",
                f"set {group}.model or {group}.endpoint, not both",
            )
        positive(self, "timeout_s", "concurrency", "retry_attempts")
        at_most(self, "concurrency", 1024, "requests in flight")
        at_most(self, "retry_attempts", 100, "tries per request")
        non_negative(self, "retry_backoff_s", "retry_max_wait_s")


@dataclass(frozen=True)
class TeacherParams(EndpointSettings):
    """The EFT teacher (`seed.eft_mode: model_rationales`): writes the judge's rationale and
    score for each EFT reply with the paper's judge prompt (the paper: the SFT baseline)."""

    _group: ClassVar[str] = "teacher"
    model: str | None = field(
        default=None,
        metadata={
            "help": (
                "The teacher: a local model directory (e.g. data/models/m0 after `dvc repro "
                "base`, or a stronger model); or set `endpoint`. Its files' hash is in the seed "
                "fingerprint; DVC sees the path as a param only, not as a dependency (after "
                "changing the files in place run `dvc repro -f seed`)."
            )
        },
    )
    temperature: float = field(
        default=0.0,
        metadata={"help": "Sampling temperature of the rationales (0 = greedy)."},
    )
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling: top-p."})
    max_new_tokens: int = field(
        default=256,
        metadata={
            "help": (
                "Longest rationale in tokens; one cut before its `Score:` has no score and "
                "drops its group (counted as unparsed)."
            )
        },
    )
    random_seed: int = field(
        default=0, metadata={"help": "Random seed of the sampling (one seed per reply)."}
    )

    def __post_init__(self):
        if self.model is not None and not self.model.strip():
            raise ParamsError("teacher.model: empty; leave it out (null) or name a model")
        positive(self, "max_new_tokens")
        sampling(self)
        valid_seed(self)
        self._check_endpoint()

    def named(self) -> bool:
        """Whether a teacher is set (a model folder or an endpoint)."""
        return bool(self.model or self.endpoint)
