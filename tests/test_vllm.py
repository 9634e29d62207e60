"""vLLM engine checks; they need a CUDA GPU and the `gpu` extra (`pytest -m gpu`)."""

import pytest

from srlm.core.config import EngineConfig
from srlm.core.requests import user_request
from srlm.engines import make_generator
from srlm.loop.judge import parse_score, render_judge_prompt
from tests.helpers import requires_cuda, requires_vllm

pytestmark = [pytest.mark.gpu, requires_vllm, requires_cuda]


@pytest.fixture(scope="module")
def vllm_generator(tiny_model_dir):
    config = EngineConfig(backend="vllm", precision="bf16", gpu_memory_utilization=0.3,
                          max_model_len=2048)
    return make_generator(str(tiny_model_dir), config)


def test_vllm_returns_n_completions_in_request_order(vllm_generator):
    requests = [user_request(f"r{i}", f"Say something about {i}.", n=3, max_new_tokens=12,
                             temperature=0.7, top_p=0.9, seed=i) for i in range(5)]
    out = vllm_generator.generate(requests)
    assert [(c.request_id, c.index) for c in out] == [(f"r{i}", j) for i in range(5)
                                                      for j in range(3)]
    assert all(0 < c.n_tokens <= 12 and c.finish_reason in ("stop", "length") for c in out)


def test_vllm_seeded_requests_do_not_depend_on_batch(vllm_generator):
    target = user_request("t", "Tell me about rivers.", n=2, max_new_tokens=16,
                          temperature=0.7, top_p=0.9, seed=11)
    others = [user_request(f"o{i}", "Other " * (i + 1), max_new_tokens=16, temperature=0.7,
                           seed=i) for i in range(6)]
    alone = [c.text for c in vllm_generator.generate([target])]
    mixed = [c.text for c in vllm_generator.generate(others + [target]) if c.request_id == "t"]
    assert alone == mixed


def test_vllm_judges_with_the_shared_rubric_prefix(vllm_generator):
    requests = [user_request(f"j{i}", render_judge_prompt(f"Question {i}?", f"Answer {i}."),
                             max_new_tokens=32, n=3, temperature=0.7, seed=i) for i in range(8)]
    out = vllm_generator.generate(requests)
    assert len(out) == 24
    assert all(parse_score(c.text) is None or 0 <= parse_score(c.text) <= 5 for c in out)


def test_vllm_option_probabilities_agree_with_transformers(vllm_generator, tiny_model_dir):
    reference = make_generator(str(tiny_model_dir), EngineConfig(precision="fp32"))
    requests = [user_request(f"p{i}", f"Compare answers {i}.") for i in range(4)]
    prefixes = ["The better response is Response"] * 4
    got = vllm_generator.option_probabilities(requests, prefixes, [" A", " B"])
    want = reference.option_probabilities(requests, prefixes, [" A", " B"])
    # vLLM keeps the top 20 tokens only: an option outside them is 0
    for g, w in zip(got, want, strict=True):
        for a, b in zip(g, w, strict=True):
            assert a == 0.0 or a == pytest.approx(b, rel=0.05, abs=1e-4)


def test_vllm_records_watched_probabilities_per_token(vllm_generator):
    digits = tuple(str(d) for d in range(6))
    out = vllm_generator.generate([user_request("w", "Count: 1 2 3", max_new_tokens=8,
                                                watch=digits)])[0]
    assert len(out.watched) == len(out.offsets) == out.n_tokens
    assert all(len(step) == 6 and 0 <= sum(step) <= 1 + 1e-6 for step in out.watched)
