"""Top-p (nucleus) filtering for vLLM's CPU sampler without sorting the whole vocabulary.

vLLM-CPU applies top-p by sorting every row of logits over the vocabulary (49,152 tokens for
SmolLM2) at every decoding step: with the loop's `top_p: 0.9`, that sort took 28% of a
generation's time on 2 cores (torch.profiler, 128 sequences; docs/speed.md). The nucleus at
the loop's temperatures holds a few to a few hundred tokens, so this module finds it among the
`CANDIDATES` most likely tokens (`torch.topk`, no full sort) and falls back to vLLM's own sort
for any row whose nucleus might reach past them (near-uniform distributions, `top_p: 1.0`).

The rule is vLLM's: a token is kept when the probability of all tokens more likely than it is
below p (so the most likely token always is), every other logit becomes -inf, in place. Both
sides compute that sum in float32 in a different order, so the two can disagree only where the
boundary falls within rounding of p or between tokens of equal logit; tested equal with
vLLM's function on peaked, flat and mixed rows (tests/test_top_p.py).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

CANDIDATES = 512  # the nucleus at T 0.7 / top-p 0.9 held at most 179 tokens (1,445 M1 steps)
MARGIN = 1e-4  # rows whose candidates' mass is not clearly above p take the full sort:
# a float32 sum of 512 probabilities is off by far less than this


def nucleus_logits(
    logits: torch.Tensor,
    p: torch.Tensor,
    full_sort: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    candidates: int = CANDIDATES,
) -> torch.Tensor:
    """`logits` (batch x vocab) with every token outside each row's top-`p` nucleus set to
    -inf, in place; `full_sort(rows_logits, rows_p)` filters the rows whose nucleus may not
    lie within the `candidates` most likely tokens."""
    if logits.shape[1] <= candidates:
        return full_sort(logits, p)
    probs = logits.softmax(dim=-1)
    top, index = probs.topk(candidates, dim=-1)  # sorted, most likely first
    total = top.cumsum(dim=-1)
    covered = total[:, -1] > p + MARGIN
    kept = torch.where((total - top) < p.unsqueeze(1), logits.gather(1, index), -float("inf"))
    rest = (~covered).nonzero().squeeze(1)
    slow = full_sort(logits[rest], p[rest]) if len(rest) else None
    logits.fill_(-float("inf"))
    logits.scatter_(1, index, kept)
    if slow is not None:
        logits[rest] = slow
    return logits


def install() -> bool:
    """Make vLLM's CPU sampler (in this process) filter top-p with `nucleus_logits`; returns
    whether it did. Top-k requests, and vLLM versions without the function replaced, keep
    vLLM's own code."""
    try:
        from vllm.v1.sample.ops import topk_topp_sampler as sampler
    except ImportError:
        return False
    own = getattr(sampler, "apply_top_k_top_p", None)
    if own is None or hasattr(own, "vllms_own"):
        return own is not None

    def apply_top_k_top_p(logits, k, p):
        if p is None or k is not None:
            return own(logits, k, p)
        return nucleus_logits(logits, p, lambda rows, rows_p: own(rows, None, rows_p))

    apply_top_k_top_p.vllms_own = own  # type: ignore[attr-defined]
    sampler.apply_top_k_top_p = apply_top_k_top_p
    return True
