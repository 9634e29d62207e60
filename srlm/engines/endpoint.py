"""An OpenAI-compatible chat endpoint as the fixed evaluator of head-to-head comparisons.

For users who have a strong model behind an API (`evaluator.endpoint` in params, e.g.
`http://localhost:8000/v1` for a vLLM server, or a hosted one): each comparison is one
`POST {endpoint}/chat/completions` at temperature 0 asking for one letter. When the server
returns `top_logprobs` the option probabilities come from them; otherwise the letter the
reply starts with gets probability 1. The API key, if any, is read from the environment
variable named by `evaluator.api_key_env`, never from params.
"""

from __future__ import annotations

import json
import math
import os
import re
import urllib.error
import urllib.request
from collections.abc import Sequence

from tqdm.auto import tqdm

from srlm.core.errors import SrlmError
from srlm.core.requests import GenerationRequest

_LETTER = re.compile(r"[A-Za-z]+")


class EndpointError(SrlmError):
    """The evaluator endpoint could not be reached or answered something unusable."""


class EndpointEvaluator:
    def __init__(self, endpoint: str, model: str, api_key_env: str | None = None,
                 timeout_s: float = 60.0, max_tokens: int = 4):
        self.endpoint = endpoint.rstrip("/")
        self.model = model
        self.model_id = f"{self.endpoint}#{model}"
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self.api_key = os.environ.get(api_key_env) if api_key_env else None

    def _post(self, body: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(f"{self.endpoint}/chat/completions",
                                         data=json.dumps(body).encode(), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")[:200]
            raise EndpointError(f"evaluator endpoint {self.endpoint}: HTTP {err.code}: "
                                f"{' '.join(detail.split())}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise EndpointError(f"evaluator endpoint {self.endpoint}: {reason}") from None
        except json.JSONDecodeError:
            raise EndpointError(f"evaluator endpoint {self.endpoint}: reply is not JSON") from None

    def _probabilities(self, reply: dict, options: Sequence[str]) -> list[float]:
        letters = [o.strip() for o in options]
        try:
            choice = reply["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise EndpointError(f"evaluator endpoint {self.endpoint}: no choices[0].message "
                                "in the reply") from None
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

    def option_probabilities(
        self, requests: Sequence[GenerationRequest], prefixes: Sequence[str],
        options: Sequence[str],
    ) -> list[list[float]]:
        """One chat completion per request; the prefixes are not sent (chat APIs cannot
        continue an assistant turn), the comparison prompt itself asks for the letter."""
        out = []
        for request in tqdm(requests, desc="evaluator", unit="request"):
            reply = self._post({
                "model": self.model, "messages": request.chat(), "temperature": 0,
                "max_tokens": self.max_tokens, "logprobs": True, "top_logprobs": 5,
            })
            out.append(self._probabilities(reply, options))
        return out
