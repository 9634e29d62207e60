import pytest

from srlm.core.params import EngineParams
from srlm.engines import make_generator
from srlm.engines.fake import FakeGenerator
from srlm.engines.vllm_engine import engine_arguments
from srlm.loop.judge_prompt import parse_score, render_judge_prompt
from srlm.runtime.requests import GenerationRequest, user_request


@pytest.fixture(scope="module")
def tiny_generator(tiny_model_dir):
    return make_generator(
        str(tiny_model_dir), EngineParams(backend="transformers", precision="fp32", batch_size=3)
    )


def sampled(request_id, prompt, seed, n=1):
    return user_request(
        request_id, prompt, max_new_tokens=8, temperature=0.7, top_p=0.9, seed=seed, n=n
    )


def test_fake_engine_is_deterministic_and_scores_judge_prompts():
    gen = FakeGenerator()
    requests = [user_request("a", "hello", n=2), user_request("j", render_judge_prompt("q", "r"))]
    first = gen.generate(requests)
    reordered = gen.generate(list(reversed(requests)))
    assert reordered[1:] + reordered[:1] == first
    assert [c.request_id for c in first] == ["a", "a", "j"]
    assert first == FakeGenerator().generate(requests)
    assert first[0].text != first[1].text  # completions of one request differ by index
    assert parse_score(first[2].text) is not None


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="engine.backend: unknown backend 'tpu'"):
        make_generator("m", EngineParams(backend="tpu"))


def test_results_come_back_in_request_order(tiny_generator):
    requests = [user_request(f"r{i}", "word " * (5 - i), max_new_tokens=4) for i in range(5)]
    out = tiny_generator.generate(requests)
    assert [c.request_id for c in out] == [f"r{i}" for i in range(5)]
    assert all(c.n_tokens <= 4 for c in out)
    assert all(c.finish_reason in ("stop", "length") for c in out)


def test_sampling_does_not_depend_on_batch_company_or_order(tiny_generator):
    target = sampled("t", "Tell me about the sea.", seed=7, n=2)
    others = [sampled(f"o{i}", "Another prompt " * (i + 1), seed=i) for i in range(4)]
    alone = tiny_generator.generate([target])
    mixed = tiny_generator.generate(others[:2] + [target] + others[2:])
    reordered = tiny_generator.generate(list(reversed(others)) + [target])
    pick = [c for c in mixed if c.request_id == "t"]
    assert [c.text for c in alone] == [c.text for c in pick]
    assert [c.text for c in alone] == [c.text for c in reordered if c.request_id == "t"]
    assert alone[0].text != alone[1].text or alone[0].n_tokens == 0


def test_seeds_change_samples_and_greedy_is_reproducible(tiny_generator):
    a = tiny_generator.generate([sampled("x", "Name a colour.", seed=1)])
    b = tiny_generator.generate([sampled("x", "Name a colour.", seed=2)])
    assert a[0].text != b[0].text
    greedy = [user_request("g", "Name a colour.", max_new_tokens=6)]
    assert tiny_generator.generate(greedy) == tiny_generator.generate(greedy)


def test_length_finish_reason(tiny_generator):
    out = tiny_generator.generate([GenerationRequest("l", (("user", "Count."),), max_new_tokens=2)])
    # a random tiny model rarely emits end-of-turn within 2 tokens; either way it is reported
    assert (out[0].finish_reason == "length") == (out[0].n_tokens == 2)


def test_option_probabilities_match_an_unpadded_forward_pass(tiny_generator):
    import torch

    requests = [user_request(f"r{i}", "tell me about rivers " * (1 + 3 * i)) for i in range(4)]
    prefixes = ["Verdict:", "The answer is", "Score: ", "Verdict:"]
    options = [" A", " B"]
    batched = tiny_generator.option_probabilities(requests, prefixes, options)
    tokenizer, model = tiny_generator.tokenizer, tiny_generator.model
    for request, prefix, probs in zip(requests, prefixes, batched, strict=True):
        ids = tiny_generator._prompt_ids(request) + tokenizer.encode(
            prefix, add_special_tokens=False
        )
        option_ids = [tokenizer.encode(prefix + o, add_special_tokens=False)[-1] for o in options]
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1].float()
        expected = torch.softmax(logits, -1)[option_ids].tolist()
        assert probs == pytest.approx(expected, abs=1e-5)
        assert 0 < sum(probs) <= 1


def test_continuation_ids_follow_the_tokenizer_around_spaces(smollm2_tokenizer):
    from srlm.engines.base import OptionTokenError, continuation_ids

    tok = smollm2_tokenizer
    digits = [str(d) for d in range(6)]
    # SmolLM2 splits "Score: 4" as ': | ' ' | 4': the digit follows the space token.
    head, ids = continuation_ids(tok, "Good answer.\nScore: ", digits)
    assert tok.decode(head).endswith("Score: ")
    assert [tok.decode([i]) for i in ids] == digits
    # " A" is one token, so after "Response " the space moves into the options.
    head, ids = continuation_ids(tok, "The better response is Response ", ["A", "B"])
    assert tok.decode(head).endswith("Response") and tok.decode([ids[0]]) == " A"
    with pytest.raises(OptionTokenError, match="not single tokens"):
        continuation_ids(tok, "Winner:", ["Response A", " B"])


def test_fake_option_probabilities_depend_only_on_the_request():
    gen = FakeGenerator()
    requests = [user_request("x", "first"), user_request("y", "second")]
    probs = gen.option_probabilities(requests, ["Winner:"] * 2, [" A", " B"])
    assert gen.option_probabilities(requests[::-1], ["Winner:"] * 2, [" A", " B"]) == probs[::-1]
    assert all(sum(p) == pytest.approx(0.9) for p in probs)


def test_watched_probabilities_are_the_models_next_token_distribution(tiny_generator):
    digits = tuple(str(d) for d in range(6))
    requests = [
        user_request(f"w{i}", "rate this " * (2 + i), max_new_tokens=6, watch=digits)
        for i in range(3)
    ]
    completions = tiny_generator.generate(requests)
    first_step = tiny_generator.option_probabilities(requests, [""] * 3, digits)
    for completion, expected in zip(completions, first_step, strict=True):
        assert len(completion.watched) == completion.n_tokens == len(completion.offsets)
        assert completion.watched[0] == pytest.approx(expected, abs=1e-5)
        assert list(completion.offsets) == sorted(completion.offsets)
    # without `watch` nothing is recorded and the text is the same
    plain = tiny_generator.generate([user_request("w0", "rate this " * 2, max_new_tokens=6)])[0]
    assert plain.watched is None and plain.text == completions[0].text


def test_watched_at_finds_the_token_that_wrote_a_character():
    from srlm.runtime.requests import Completion

    completion = Completion(
        "r",
        0,
        "Good.\nScore: 4",
        4,
        "stop",
        watched=((0.1,), (0.2,), (0.3,), (0.4,)),
        offsets=(0, 5, 6, 13),
    )
    assert completion.watched_at(13) == (0.4,)  # the "4"
    assert completion.watched_at(7) == (0.3,)  # inside "Score: "
    assert completion.watched_at(14) is None  # past the end
    assert Completion("r", 0, "x", 1, "stop").watched_at(0) is None


def test_completions_sharing_a_prompt_pass_equal_unshared_ones(tiny_model_dir):
    """n samples of one request share one prompt pass; the samples must not change."""
    shared = make_generator(
        str(tiny_model_dir), EngineParams(backend="transformers", precision="fp32", batch_size=8)
    )
    alone = make_generator(
        str(tiny_model_dir), EngineParams(backend="transformers", precision="fp32", batch_size=1)
    )
    requests = [
        sampled("a", "a long prompt about rivers " * 20, seed=1, n=3),
        sampled("b", "short one", seed=2, n=2),
        user_request("g", "greedy please " * 5, max_new_tokens=8, n=2),
    ]
    assert [c.text for c in shared.generate(requests)] == [c.text for c in alone.generate(requests)]


def test_cpu_arguments_prefill_whole_prompts_with_a_fixed_kv_cache():
    cpu = engine_arguments(
        "m", EngineParams(backend="vllm", precision="fp32", max_model_len=2048), on_gpu=False
    )
    assert cpu["enable_chunked_prefill"] is False  # seeded chunked prefill kills vLLM-CPU
    assert cpu["max_num_batched_tokens"] == 2048
    assert cpu["kv_cache_memory_bytes"] == 2 << 30 and "gpu_memory_utilization" not in cpu
    assert cpu["enable_prefix_caching"] and cpu["dtype"] == "float32"
    assert cpu["block_size"] == 32  # the smallest block vLLM-CPU's attention takes
    assert cpu["enforce_eager"] is True  # torch.compile only when engine.compile asks
    assert engine_arguments("m", EngineParams(compile=True), on_gpu=False)["enforce_eager"] is False
    gpu = engine_arguments(
        "m",
        EngineParams(backend="vllm", precision="bf16", kv_cache_gib=8, gpu_memory_utilization=0.5),
        on_gpu=True,
    )
    assert gpu["gpu_memory_utilization"] == 0.5 and gpu["kv_cache_memory_bytes"] == 8 << 30
    assert "enable_chunked_prefill" not in gpu and gpu["dtype"] == "bfloat16"
    assert "block_size" not in gpu  # vLLM's GPU default (16) is already small


@pytest.mark.parametrize(
    "text",
    [
        "  Plain ASCII: the answer is good.\nScore: 4",
        "Café, naïve, 東京, and an emoji 🙂 split over byte tokens. Score: 5",
        "",
    ],
)
def test_token_offsets_are_the_lengths_of_the_decoded_prefixes(smollm2_tokenizer, text):
    from srlm.engines.base import token_offsets

    tokens = smollm2_tokenizer.encode(text, add_special_tokens=False)
    tokens += [smollm2_tokenizer.eos_token_id]  # special tokens decode to nothing
    raw = smollm2_tokenizer.decode(tokens, skip_special_tokens=True)
    lead = len(raw) - len(raw.lstrip())
    expected = tuple(
        max(0, len(smollm2_tokenizer.decode(tokens[:i], skip_special_tokens=True)) - lead)
        for i in range(len(tokens))
    )
    assert token_offsets(smollm2_tokenizer, tokens) == (raw.strip(), expected)


def test_token_offsets_take_the_linear_path_on_whole_characters(smollm2_tokenizer, monkeypatch):
    from srlm.engines.base import token_offsets

    calls = []
    decode = type(smollm2_tokenizer).decode
    monkeypatch.setattr(
        type(smollm2_tokenizer),
        "decode",
        lambda self, *a, **k: calls.append(1) or decode(self, *a, **k),
    )
    tokens = smollm2_tokenizer.encode(
        "A fairly long answer. " * 20 + "Score: 3", add_special_tokens=False
    )
    token_offsets(smollm2_tokenizer, tokens)
    assert len(tokens) > 100 and len(calls) == 1 + 1  # the whole text; one batch of pieces
