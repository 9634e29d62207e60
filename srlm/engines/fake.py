"""A deterministic, instant generator for tests of everything around the model.

The text depends only on the request (prompt, seed, completion index), never on batching.
Judge prompts (they contain the rubric's "additive 5-point" wording) get a short justification
and a `Score:` derived from a hash, so parse rates and pair building can be exercised.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from srlm.runtime.requests import Completion, GenerationRequest

_WORDS = (
    "apple river stone cloud garden music paper window engine forest candle silver market "
    "winter planet bridge coffee lantern ocean pencil rocket meadow castle thunder violin "
    "harbor desert puzzle circuit feather glacier orchard compass ribbon canyon falcon marble "
    "journey library quartz saddle timber velvet whistle anchor blossom cobalt dolphin ember "
    "fossil granite horizon island jasmine kettle lemon mirror nectar oyster pepper quiver"
).split()


class FakeGenerator:
    def __init__(self, model_dir: str = "fake"):
        self.model_id = f"fake:{model_dir}"

    def _text(self, request: GenerationRequest, index: int) -> str:
        prompt = request.messages[-1][1]
        key = f"{self.model_id}|{prompt}|{request.seed}|{index}|{request.temperature}"
        digest = int(hashlib.sha256(key.encode()).hexdigest(), 16)
        if "additive 5-point" in prompt:
            return f"The response is partly relevant.\nScore: {digest % 6}"
        n = 4 + digest % 12
        body = " ".join(_WORDS[(digest >> (6 * i)) % len(_WORDS)] for i in range(n))
        return body.capitalize() + "."

    def _distribution(self, key: str, options: Sequence[str]) -> tuple[float, ...]:
        weights = [
            1 + int(hashlib.sha256(f"{key}|{o}".encode()).hexdigest(), 16) % 97 for o in options
        ]
        return tuple(0.9 * w / sum(weights) for w in weights)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        """Word-level "tokens"; with `request.watch`, a hash-derived record per word."""
        out = []
        for request in requests:
            for index in range(request.n):
                text = self._text(request, index)
                words = text.split()[: request.max_new_tokens]
                finish = "length" if len(text.split()) > request.max_new_tokens else "stop"
                text = " ".join(words)
                watched = offsets = None
                if request.watch:
                    offsets = tuple(m.start() for m in re.finditer(r"\S+", text))
                    watched = tuple(
                        self._distribution(f"{text}|{i}", request.watch)
                        for i in range(len(offsets))
                    )
                out.append(
                    Completion(
                        request.request_id,
                        index,
                        text,
                        len(words),
                        finish,
                        watched=watched,
                        offsets=offsets,
                    )
                )
        return out

    def option_probabilities(
        self,
        requests: Sequence[GenerationRequest],
        prefixes: Sequence[str],
        options: Sequence[str],
    ) -> list[list[float]]:
        """Hash-derived probabilities (summing to 0.9) that depend only on request and prefix."""
        return [
            list(self._distribution(f"{self.model_id}|{r.messages[-1][1]}|{prefix}", options))
            for r, prefix in zip(requests, prefixes, strict=True)
        ]
