"""What a generation engine is asked and answers: requests, completions, the `Generator`
protocol. Plain records, so the loop's logic can build requests without importing a backend.
"""

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
    # Strings (one token each, with or without a leading space) whose next-token
    # probabilities are recorded at every generated step, e.g. the judge's "0".."5".
    watch: tuple[str, ...] = ()

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
    # With `request.watch`: per generated token, the probability of each watched string
    # (raw model distribution, temperature 1), and where the token starts in `text`.
    watched: tuple[tuple[float, ...], ...] | None = None
    offsets: tuple[int, ...] | None = None

    def watched_at(self, position: int) -> tuple[float, ...] | None:
        """The watched probabilities of the step that wrote the character at `position`
        of `text`; None without a record or when no token covers it."""
        if self.watched is None or self.offsets is None:
            return None
        for step, start in enumerate(self.offsets):
            end = self.offsets[step + 1] if step + 1 < len(self.offsets) else len(self.text)
            if start <= position < end:
                return self.watched[step]
        return None


class Generator(Protocol):
    """What every backend implements."""

    model_id: str

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        """Completions for all requests, `n` per request, in request order."""
        ...

    def option_probabilities(
        self,
        requests: Sequence[GenerationRequest],
        prefixes: Sequence[str],
        options: Sequence[str],
    ) -> list[list[float]]:
        """For each request, the probability that the assistant's reply, once it has written
        `prefixes[i]`, continues with each of `options` (each one token, e.g. " A" / " B" or
        "0".."5"): one forward pass, no sampling. They are probabilities of the full next-token
        distribution, so they sum to at most 1; the rest is mass on other tokens.
        """
        ...


def user_request(request_id: str, prompt: str, **sampling) -> GenerationRequest:
    """A single-turn request: the user says `prompt`."""
    return GenerationRequest(request_id=request_id, messages=(("user", prompt),), **sampling)
