"""Candidate answers: N samples per prompt, seeded per prompt, as `candidates` rows.

`candidate_requests` asks for `cfg.n` samples of each prompt (a `CandidatesConfig`), seeded
by (random seed, `scope`, prompt id) only; `candidate_rows` turns the completions into rows
whose `candidate_id` is a content id of (prompt id, scope, sample index), so the same prompt
in the same scope always gets the same ids. The candidates stage uses the iteration's name as
scope; the anchors of `pairs.mode: anchored` use their own.
"""

from __future__ import annotations

from collections.abc import Sequence

from srlm.core.ids import content_id
from srlm.core.requests import Completion, GenerationRequest, user_request
from srlm.core.shards import request_seed


def candidate_requests(prompts: Sequence[tuple[str, str]], cfg, scope: str
                       ) -> list[GenerationRequest]:
    """One request per `(prompt_id, prompt)` with the candidates' sampling params."""
    return [user_request(pid, prompt, n=cfg.n, temperature=cfg.temperature, top_p=cfg.top_p,
                         max_new_tokens=cfg.max_new_tokens,
                         seed=request_seed(cfg.random_seed, scope, pid))
            for pid, prompt in prompts]


def candidate_rows(completions: Sequence[Completion], requests: Sequence[GenerationRequest],
                   scope: str, model: str) -> list[dict]:
    """`candidates` artifact rows of `completions` to `requests`, made by `model`."""
    by_id = {r.request_id: r for r in requests}
    return [{"prompt_id": c.request_id,
             "candidate_id": content_id(c.request_id, scope, str(c.index)),
             "prompt": by_id[c.request_id].messages[-1][1], "response": c.text, "model": model,
             "seed": by_id[c.request_id].seed, "n_tokens": c.n_tokens,
             "finish_reason": c.finish_reason}
            for c in completions]
