"""Watched-token probabilities from an OpenAI-compatible reply's `logprobs`.

A chat completion asked with `logprobs: true, top_logprobs: k` lists, per generated token,
the token's text, its log-probability and the `k` most likely tokens at that step. The local
engines record, at every step, the probability of each watched string (e.g. the judge's
"0".."5") as the sum over the single tokens that write it: the string itself and the string
with a leading space (`srlm.engines.base.watch_token_ids`). `watched_steps` reads the same
quantity from the listed tokens: at each step, the probabilities of the tokens `w` and `" w"`
among the top ones and the sampled one (exact, whatever `k`); a form the server did not list
counts 0, so with `k` >= 6 a score outside the top `k` is the only approximation.

The probabilities are what the server reports: vLLM's are the model's raw distribution (as the
local engines record them); a hosted API may report them after its own processing.
Anything that does not fit (no logprobs, a step without its top list, tokens that do not spell
the reply's text, a malformed or impossible number) gives None: no probabilities rather than
wrong ones. One extra last step is allowed: vLLM's server lists the stop token it generated
(e.g. `<|im_end|>`), which the reply's text does not contain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Steps = tuple[tuple[float, ...], ...]


def _logprob(entry: object) -> tuple[str, float] | None:
    """(token, logprob) of one listed token, or None when it is malformed."""
    if not isinstance(entry, dict):
        return None
    token, logprob = entry.get("token"), entry.get("logprob")
    if not isinstance(token, str) or isinstance(logprob, bool):
        return None
    if not isinstance(logprob, int | float) or not math.isfinite(logprob) or logprob > 0:
        return None
    return token, float(logprob)


def step_probabilities(step: dict, watch: Sequence[str]) -> tuple[float, ...] | None:
    """Per watched string, its probability at this step: `w` and `" w"` summed, from the
    step's top list and its sampled token; None without a top list or with a sum over 1."""
    top = step.get("top_logprobs")
    if not isinstance(top, list) or not top:
        return None
    listed: dict[str, float] = {}
    for entry in [step, *top]:
        found = _logprob(entry)
        if found is not None:
            listed.setdefault(*found)
    probs = tuple(
        math.fsum(math.exp(listed[form]) for form in (w, " " + w) if form in listed) for w in watch
    )
    if any(p > 1.0 + 1e-6 for p in probs):
        return None  # two forms cannot hold more than all the mass: not a distribution
    return tuple(min(p, 1.0) for p in probs)


def watched_steps(
    text: str, logprobs: object, watch: Sequence[str]
) -> tuple[Steps, tuple[int, ...]] | tuple[None, None]:
    """(per step, the watched probabilities; where each token starts in `text`) from a
    choice's `logprobs`, `text` being the reply stripped; (None, None) when they cannot be
    read (module docstring). Offsets count from the stripped text's start, as the local
    engines' (`srlm.engines.base.token_offsets`) do."""
    if not watch or not isinstance(logprobs, dict):
        return None, None
    steps = logprobs.get("content")
    if not isinstance(steps, list) or not steps:
        return None, None
    if not all(isinstance(s, dict) and isinstance(s.get("token"), str) for s in steps):
        return None, None
    tokens = [step["token"] for step in steps]
    if "".join(tokens).strip() != text and "".join(tokens[:-1]).strip() == text:
        # vLLM lists the stop token it generated (<|im_end|>) as a last step that the reply's
        # text leaves out; the steps before it spell the text, so their positions hold
        steps, tokens = steps[:-1], tokens[:-1]
    raw = "".join(tokens)
    if raw.strip() != text or not steps:
        return None, None  # the listed tokens do not spell the reply: no position to trust
    lead = len(raw) - len(raw.lstrip())
    offsets, position = [], 0
    for token in tokens:
        offsets.append(max(0, position - lead))
        position += len(token)
    watched = []
    for step in steps:
        probs = step_probabilities(step, watch)
        if probs is None:
            return None, None
        watched.append(probs)
    return tuple(watched), tuple(offsets)
