"""Sampled generation through an OpenAI-compatible chat endpoint: the loop's judge on a server.

`ChatEndpointGenerator` implements the `Generator` protocol's `generate` for `judge.endpoint`
(`EndpointRecipe(judge_params).load()`): each `GenerationRequest` is one
`POST {endpoint}/chat/completions` with its messages (the paper's judge prompt as the user
turn), `n` samples, its temperature and top-p, `max_tokens`, its own `seed` (the request seed
the local engines use; servers that honour `seed`, vLLM among them, then sample the same way
on every rerun) and, when the request watches tokens, `logprobs` with `top_logprobs`, from
which the watched probabilities are read (`srlm.engines.logprobs`).

Requests run concurrently, at most `concurrency` in flight (an asyncio semaphore; a request
waiting to retry holds no slot). 429, 5xx, connection errors and a passed deadline are retried
up to `attempts` tries in all, after `backoff_s` doubled at each retry, or the server's
`Retry-After`, never more than `max_wait_s`; anything else, or the last try failing, is one
`EndpointError` naming the endpoint (never the key), and the requests still in flight are
cancelled. `usage()` sums the requests, retries and the tokens of the server's `usage`.

A chat API cannot continue a given assistant text, so `prefix_scoring` is False and
`option_probabilities` is refused: probabilities come from logprobs or not at all.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from srlm.core.endpoint_url import public_url
from srlm.core.params import EndpointSettings
from srlm.engines.http_json import EndpointError, JsonEndpoint, RetryableError, run_sync
from srlm.engines.logprobs import watched_steps
from srlm.runtime.requests import Completion, GenerationRequest

log = logging.getLogger(__name__)
USAGE_KEYS = ("prompt_tokens", "completion_tokens")
COUNTS = ("requests", "retries", *USAGE_KEYS, "replies_without_usage")


def endpoint_identity(url: str, model: str) -> str:
    """Who answers: the endpoint without userinfo and the model it serves (`url#model`)."""
    return f"{public_url(url).rstrip('/')}#{model}"


class ChatEndpointGenerator:
    """See the module docstring. `group` names the params group in messages (`judge`)."""

    prefix_scoring = False  # read by srlm.loop.judge: no forward pass over a given prefix

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key_env: str | None,
        timeout_s: float,
        allow_insecure_http: bool = False,
        top_logprobs: int = 20,
        concurrency: int = 8,
        attempts: int = 5,
        backoff_s: float = 1.0,
        max_wait_s: float = 60.0,
        group: str = "judge",
    ):
        key = os.environ.get(api_key_env) if api_key_env else None
        self.http = JsonEndpoint(
            url, group, timeout_s, key, allow_insecure_http, "a judgment is a few KB"
        )
        self.model = model
        self.model_id = endpoint_identity(self.http.url, model)
        self.top_logprobs, self.concurrency = top_logprobs, concurrency
        self.attempts, self.backoff_s, self.max_wait_s = attempts, backoff_s, max_wait_s
        self.counts = dict.fromkeys(COUNTS, 0)

    def usage(self) -> dict[str, int]:
        """Requests sent (retries included), retries, and the tokens the server counted."""
        return dict(self.counts)

    def body(self, request: GenerationRequest) -> dict:
        """The chat completion request for `request`."""
        body = {
            "model": self.model,
            "messages": request.chat(),
            "n": request.n,
            "temperature": request.temperature,
            "top_p": request.top_p if request.temperature > 0 else 1.0,
            "max_tokens": request.max_new_tokens,
            "seed": request.seed,
        }
        if request.watch and self.top_logprobs:
            body |= {"logprobs": True, "top_logprobs": self.top_logprobs}
        return body

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        """All completions in request order (`n` per request)."""
        return run_sync(self._generate(requests))

    def option_probabilities(self, requests, prefixes, options) -> list[list[float]]:
        """Refused: a chat API cannot continue a given assistant text."""
        raise self.http.error("cannot score a given prefix (a chat API continues no text)")

    async def _generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        slots = asyncio.Semaphore(self.concurrency)
        async with self.http.client(self.concurrency) as client:
            tasks = [asyncio.ensure_future(self._ask(client, slots, r)) for r in requests]
            try:
                replies = await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:  # one request failed for good: stop asking the rest
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
        return [c for request, reply in zip(requests, replies, strict=True) for c in reply]

    async def _ask(
        self, client: httpx.AsyncClient, slots: asyncio.Semaphore, request: GenerationRequest
    ) -> list[Completion]:
        body = self.body(request)
        for attempt in range(1, self.attempts + 1):
            async with slots:
                self.counts["requests"] += 1
                try:
                    reply = await self.http.post(client, "/chat/completions", body)
                    break
                except RetryableError as err:
                    if attempt == self.attempts:
                        raise EndpointError(
                            f"{err} (gave up after {attempt} tries: "
                            f"{self.http.group}.retry_attempts)"
                        ) from None
                    failure, wait = str(err), self._wait(attempt, err.retry_after)
            self.counts["retries"] += 1
            log.warning("%s; try %d of %d in %.1f s", failure, attempt + 1, self.attempts, wait)
            await asyncio.sleep(wait)  # outside the slot: a waiting retry holds none
        self._count_usage(reply)
        return self._completions(request, reply)

    def _wait(self, attempt: int, asked: float | None) -> float:
        """Seconds before try `attempt + 1`: the server's `Retry-After` when it gave one,
        else the backoff doubled per retry; never over `max_wait_s`."""
        wait = asked if asked is not None else self.backoff_s * 2 ** (attempt - 1)
        return min(wait, self.max_wait_s)

    def _count_usage(self, reply: dict) -> None:
        usage = reply.get("usage")
        counted = isinstance(usage, dict)
        for key in USAGE_KEYS:
            value = usage.get(key) if isinstance(usage, dict) else None
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                self.counts[key] += value
            else:
                counted = False
        self.counts["replies_without_usage"] += not counted

    def _completions(self, request: GenerationRequest, reply: dict) -> list[Completion]:
        choices = reply.get("choices")
        if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
            raise self.http.error("no choices in the reply")
        if len(choices) != request.n:
            raise self.http.error(
                f"{len(choices)} choices for n = {request.n} samples: the server must support "
                f"`n` (or set {self.http.group}.samples: 1)"
            )
        if all(isinstance(c.get("index"), int) for c in choices):
            choices = sorted(choices, key=lambda c: c["index"])
        out = []
        for index, choice in enumerate(choices):
            message = choice.get("message")
            content = message.get("content") if isinstance(message, dict) else None
            if content is not None and not isinstance(content, str):
                raise self.http.error(f"choices[{index}].message.content is not text")
            text = (content or "").strip()
            logprobs = choice.get("logprobs")
            watched, offsets = watched_steps(text, logprobs, request.watch)
            steps = logprobs.get("content") if isinstance(logprobs, dict) else None
            out.append(
                Completion(
                    request.request_id,
                    index,
                    text,
                    len(steps) if isinstance(steps, list) else 0,
                    "length" if choice.get("finish_reason") == "length" else "stop",
                    watched=watched,
                    offsets=offsets,
                )
            )
        return out


@dataclass(frozen=True)
class EndpointRecipe:
    """How a shard task loads an endpoint: `load()` makes a `ChatEndpointGenerator` from
    `cfg`, a group with `endpoint` set (`judge`, or the EFT `teacher`, which asks for no
    logprobs: it reads only the text)."""

    cfg: EndpointSettings

    def load(self) -> ChatEndpointGenerator:
        cfg = self.cfg
        return ChatEndpointGenerator(
            cfg.endpoint or "",
            cfg.endpoint_model or "",
            api_key_env=cfg.api_key_env,
            timeout_s=cfg.timeout_s,
            allow_insecure_http=cfg.allow_insecure_http,
            top_logprobs=getattr(cfg, "endpoint_top_logprobs", 0),
            concurrency=cfg.concurrency,
            attempts=cfg.retry_attempts,
            backoff_s=cfg.retry_backoff_s,
            max_wait_s=cfg.retry_max_wait_s,
            group=getattr(cfg, "_group", "judge"),
        )
