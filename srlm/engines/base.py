"""The `Generator` protocol: chat requests in, completions out, deterministic per request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class GenerationRequest:
    """One chat prompt to complete `n` times. `temperature == 0` means greedy decoding.

    `seed` fixes the sampling of this request alone, so the request order does not matter.
    In fp32 the text does not depend on the rest of the batch either; in bf16 the padding of
    a different batch can shift logits slightly, so stages keep batches fixed per shard.
    """

    request_id: str
    messages: tuple[tuple[str, str], ...]  # (role, content) pairs
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    seed: int = 0

    def chat(self) -> list[dict[str, str]]:
        """The messages as the list of dicts chat templates expect."""
        return [{"role": role, "content": content} for role, content in self.messages]


@dataclass(frozen=True)
class Completion:
    """The `index`-th completion of request `request_id`."""

    request_id: str
    index: int
    text: str
    n_tokens: int
    finish_reason: str  # "stop" (end of turn) or "length" (hit max_new_tokens)


class Generator(Protocol):
    """What every backend implements."""

    model_id: str

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        """Completions for all requests, `n` per request, in request order."""
        ...


def user_request(request_id: str, prompt: str, **sampling) -> GenerationRequest:
    """A single-turn request: the user says `prompt`."""
    return GenerationRequest(request_id=request_id, messages=(("user", prompt),), **sampling)
