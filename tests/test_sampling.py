"""srlm/loop/sampling.py: candidate requests seeded per prompt, candidate rows, their metrics."""

import polars as pl

from srlm.core.params import CandidatesParams
from srlm.core.schemas import validate
from srlm.engines.fake import FakeGenerator
from srlm.loop.sampling import candidate_metrics, candidate_requests, candidate_rows


def test_candidates_are_seeded_by_prompt_and_scope_only():
    cfg = CandidatesParams(n=3, max_new_tokens=8)
    prompts = [("p1", "Say hi."), ("p2", "Name a colour.")]
    requests = candidate_requests(prompts, cfg, "m2")
    assert [r.n for r in requests] == [3, 3]
    assert candidate_requests(prompts[::-1], cfg, "m2")[1].seed == requests[0].seed
    assert candidate_requests(prompts, cfg, "m3")[0].seed != requests[0].seed
    rows = candidate_rows(FakeGenerator().generate(requests), requests, "m2", "m1")
    validate(pl.DataFrame(rows), "candidates")
    assert len({r["candidate_id"] for r in rows}) == 6


def test_candidate_metrics_count_empty_and_cut_responses():
    frame = pl.DataFrame(
        {
            "response": ["abcd", "", "ab", "abcdef"],
            "n_tokens": [4, 0, 2, 6],
            "finish_reason": ["stop", "stop", "length", "length"],
        }
    )
    assert candidate_metrics(frame, 2, 2) == {
        "prompts": 2,
        "candidates": 4,
        "per_prompt": 2,
        "empty_responses": 1,
        "hit_max_new_tokens": 2,
        "mean_tokens": 3.0,
        "mean_chars": 3.0,
    }
    empty = candidate_metrics(frame.clear(), 0, 2)
    assert empty["mean_tokens"] is None and empty["mean_chars"] is None
    assert empty["candidates"] == 0
