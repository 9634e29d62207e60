"""An OpenAI-compatible chat endpoint as the fixed evaluator of head-to-head comparisons.

For users who have a strong model behind an API (`evaluator.endpoint` in params, e.g.
`http://localhost:8000/v1` for a vLLM server, or a hosted one): each comparison is one
`POST {endpoint}/chat/completions` at temperature 0 asking for one letter. When the server
returns `top_logprobs` the option probabilities come from them; otherwise the letter the
reply starts with gets probability 1. The API key, if any, is read from the environment
variable named by `evaluator.api_key_env`, never from params.

Every request goes through `srlm.engines.http_json` (httpx): the URL is checked before any
traffic (no credentials in it, plain http only to this machine unless
`evaluator.allow_insecure_http`), redirects are never followed, `evaluator.timeout_s` is a
deadline for the whole request, a reply over `MAX_REPLY_BYTES` is refused without reading the
rest, and no message carries the key. One request at a time, no retry: a comparison run is
small, and a failure is better reported than hidden.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence

from tqdm.auto import tqdm

from srlm.core.endpoint_url import public_url
from srlm.engines.http_json import (
    MAX_REPLY_BYTES,
    EndpointError,
    JsonEndpoint,
    check_endpoint,
    run_sync,
)
from srlm.runtime.requests import GenerationRequest

__all__ = [
    "MAX_REPLY_BYTES",
    "EndpointError",
    "EndpointEvaluator",
    "check_endpoint",
    "public_url",
]

_LETTER = re.compile(r"[A-Za-z]+")


class EndpointEvaluator:
    def __init__(
        self,
        endpoint: str,
        model: str,
        api_key_env: str | None = None,
        timeout_s: float = 60.0,
        max_tokens: int = 4,
        allow_insecure_http: bool = False,
    ):
        key = os.environ.get(api_key_env) if api_key_env else None
        self._http = JsonEndpoint(endpoint, "evaluator", timeout_s, key, allow_insecure_http)
        self.endpoint = self._http.url
        self.model = model
        self.model_id = f"{self.endpoint}#{model}"
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens

    def _probabilities(self, reply: dict, options: Sequence[str]) -> list[float]:
        letters = [o.strip() for o in options]
        try:
            choice = reply["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise self._http.error("no choices[0].message in the reply") from None
        top = ((choice.get("logprobs") or {}).get("content") or [{}])[0].get("top_logprobs")
        if top:
            found = {}
            for entry in top:
                token = entry.get("token", "").strip()
                if token in letters and token not in found:
                    found[token] = math.exp(entry["logprob"])
            return [found.get(letter, 0.0) for letter in letters]
        first = _LETTER.search(text)
        word = first.group(0) if first else ""
        return [1.0 if word == letter else 0.0 for letter in letters]

    async def _ask_all(
        self, requests: Sequence[GenerationRequest], options: Sequence[str]
    ) -> list[list[float]]:
        out = []
        async with self._http.client() as client:
            for request in tqdm(requests, desc="evaluator", unit="request"):
                reply = await self._http.post(
                    client,
                    "/chat/completions",
                    {
                        "model": self.model,
                        "messages": request.chat(),
                        "temperature": 0,
                        "max_tokens": self.max_tokens,
                        "logprobs": True,
                        "top_logprobs": 5,
                    },
                )
                out.append(self._probabilities(reply, options))
        return out

    def option_probabilities(
        self,
        requests: Sequence[GenerationRequest],
        prefixes: Sequence[str],
        options: Sequence[str],
    ) -> list[list[float]]:
        """One chat completion per request; the prefixes are not sent (chat APIs cannot
        continue an assistant turn), the comparison prompt itself asks for the letter."""
        return run_sync(self._ask_all(requests, options))
