"""Top-p filtering without a full sort (srlm/engines/vllm_top_p.py) keeps exactly the tokens
that sorting the whole vocabulary keeps: on peaked rows (found among the candidates), flat
rows and `top_p: 1.0` rows (which take the full sort), and batches mixing them.
"""

import pytest
import torch

from srlm.engines import vllm_top_p
from srlm.engines.vllm_top_p import nucleus_logits
from tests.helpers import requires_vllm

VOCAB = 4096


def sorted_nucleus(logits: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """The rule by a full sort, as vLLM-CPU applies it: ascending probabilities, mask each
    token whose cumulative probability (itself and every less likely token) is <= 1 - p,
    never the most likely one."""
    values, index = logits.sort(dim=-1)
    cumulative = values.softmax(dim=-1).cumsum(dim=-1)
    masked = cumulative <= 1 - p.unsqueeze(1)
    masked[:, -1] = False
    return logits.scatter(1, index, values.masked_fill(masked, -float("inf")))


def peaked_logits(rows: int, seed: int, steepness: float = 1.4) -> torch.Tensor:
    """Zipf-like rows (log-probability falling with log-rank, plus noise) over a shuffled
    vocabulary, like a language model's: nuclei of a few to a few hundred tokens."""
    generator = torch.Generator().manual_seed(seed)
    ranks = torch.arange(1, VOCAB + 1, dtype=torch.float32)
    rows_out = []
    for _ in range(rows):
        scale = steepness * (0.75 + 0.75 * torch.rand(1, generator=generator))
        noisy = -scale * ranks.log() + 0.3 * torch.randn(VOCAB, generator=generator)
        rows_out.append(noisy[torch.randperm(VOCAB, generator=generator)] / 0.7)
    return torch.stack(rows_out)


def counted(full_sort):
    """`full_sort` that records how many rows each call received."""
    calls = []

    def wrapped(rows, p):
        calls.append(len(rows))
        return full_sort(rows, p)

    return wrapped, calls


def test_peaked_rows_keep_the_sorted_nucleus_without_the_full_sort():
    logits = peaked_logits(64, seed=0)
    p = torch.full((64,), 0.9)
    expected = sorted_nucleus(logits, p)
    full_sort, calls = counted(sorted_nucleus)
    out = nucleus_logits(logits.clone(), p, full_sort, candidates=256)
    assert torch.equal(out, expected)
    kept = torch.isfinite(out).sum(dim=1)
    assert kept.min() >= 1 and kept.max() > 10  # real nuclei, not just the top token
    assert calls == []  # every row was decided among its 256 candidates


def test_flat_and_top_p_one_rows_take_the_full_sort_and_match_it():
    generator = torch.Generator().manual_seed(1)
    flat = torch.randn(3, VOCAB, generator=generator) * 0.1  # the nucleus is ~90% of the vocab
    logits = torch.cat([peaked_logits(5, seed=2), flat, peaked_logits(2, seed=3)])
    p = torch.tensor([0.9] * 8 + [1.0, 0.5])  # a top_p 1.0 row, a narrow one
    expected = sorted_nucleus(logits, p)
    full_sort, calls = counted(sorted_nucleus)
    out = nucleus_logits(logits.clone(), p, full_sort, candidates=256)
    assert torch.equal(out, expected)
    assert calls == [4]  # the three flat rows and the top_p 1.0 row
    assert torch.isfinite(out[5:8]).sum() > 3 * VOCAB // 2


def test_filters_in_place_and_small_vocabularies_use_the_full_sort():
    logits = peaked_logits(4, seed=4)
    p = torch.full((4,), 0.8)
    expected = sorted_nucleus(logits, p)
    out = nucleus_logits(logits, p, sorted_nucleus, candidates=256)
    assert out is logits and torch.equal(logits, expected)
    full_sort, calls = counted(sorted_nucleus)
    small = peaked_logits(2, seed=5)[:, :200]
    nucleus_logits(small, torch.full((2,), 0.9), full_sort, candidates=256)
    assert calls == [2]


@requires_vllm
@pytest.mark.vllm
def test_equals_vllms_own_top_p_and_is_installed_in_its_cpu_sampler():
    from vllm.v1.sample.ops import topk_topp_sampler as sampler

    stock = sampler.apply_top_k_top_p_pytorch
    logits = torch.cat([peaked_logits(40, seed=6), torch.randn(4, VOCAB) * 0.1])
    p = torch.tensor([0.9] * 30 + [0.5] * 10 + [0.9, 0.9, 1.0, 1.0])
    expected = stock(logits.clone(), None, p, allow_cpu_sync=True)
    assert torch.equal(nucleus_logits(logits.clone(), p, lambda r, q: stock(r, None, q)), expected)

    current = sampler.apply_top_k_top_p  # ours where an engine of this session installed it
    own = getattr(current, "vllms_own", current)
    try:
        sampler.apply_top_k_top_p = own
        assert vllm_top_p.install() and vllm_top_p.install()  # idempotent: wraps vLLM's once
        replaced = sampler.apply_top_k_top_p
        assert replaced is not own and replaced.vllms_own is own
        assert torch.equal(replaced(logits.clone(), None, p), expected)
        top_k = torch.full((44,), 5)
        assert torch.equal(replaced(logits.clone(), top_k, p), own(logits.clone(), top_k, p))
    finally:
        sampler.apply_top_k_top_p = current
