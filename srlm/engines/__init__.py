"""Text generation engines behind one `Generator` protocol.

`make_generator(model_dir, engine_config)` returns the backend named by `engine.backend` in
params: `vllm` (the default, on GPUs and, through vLLM's CPU build, on CPUs; imported lazily
so srlm works without it), `transformers` (no extra install) or `fake` (deterministic and
instant, for tests). `EngineRecipe` is how a generation worker loads one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from srlm.core.model_dirs import check_loadable, check_model_dir
from srlm.core.params import ParamsError
from srlm.runtime.requests import Completion, GenerationRequest, Generator

__all__ = ["Completion", "EngineRecipe", "GenerationRequest", "Generator", "make_generator"]


def make_generator(model_dir: str, config, max_new_tokens_key: str = "max_new_tokens") -> Generator:
    """The backend named by `config.backend` (an `EngineParams`) for the model in `model_dir`.

    A missing or damaged `model_dir` is a `ModelLoadError` naming it and the cause. The fake
    backend loads nothing and accepts a path that does not exist (tests name made-up models),
    but an existing one must be a directory with a `config.json` object.
    `max_new_tokens_key` is the params key a too-long generation is reported under.
    """
    if config.backend in ("transformers", "vllm"):
        check_loadable(model_dir)  # a clear line before importing and loading anything
    if config.backend == "transformers":
        from srlm.engines.transformers_engine import TransformersGenerator

        return TransformersGenerator(
            model_dir,
            precision=config.precision,
            batch_size=config.batch_size,
            max_new_tokens_key=max_new_tokens_key,
        )
    if config.backend == "fake":
        from srlm.engines.fake import FakeGenerator

        if Path(model_dir).exists():
            check_model_dir(model_dir)
        return FakeGenerator(model_dir)
    if config.backend == "vllm":
        from srlm.engines.vllm_engine import VLLMGenerator

        return VLLMGenerator(model_dir, config)
    raise ParamsError(
        f"engine.backend: unknown backend '{config.backend}' (expected transformers, vllm, fake)"
    )


@dataclass(frozen=True)
class EngineRecipe:
    """How to load a generator, small enough to send to a worker (`srlm.runtime.workers`):
    `load()` is `make_generator(model, engine, max_new_tokens_key)`."""

    model: str
    engine: object  # an EngineParams
    max_new_tokens_key: str = "max_new_tokens"

    def load(self) -> Generator:
        return make_generator(self.model, self.engine, self.max_new_tokens_key)
