"""Text generation engines behind one `Generator` protocol.

`make_generator(model_dir, engine_config)` returns the backend named by `engine.backend` in
params: `transformers` (CPU default, also GPUs), `vllm` (GPUs; imported lazily so srlm works
without it) or `fake` (deterministic and instant, for tests).
"""

from __future__ import annotations

from srlm.core.config import ConfigError
from srlm.core.requests import Completion, GenerationRequest, Generator

__all__ = ["Completion", "GenerationRequest", "Generator", "make_generator"]


def make_generator(model_dir: str, config) -> Generator:
    """The backend named by `config.backend` (an `EngineConfig`) for the model in `model_dir`."""
    if config.backend == "transformers":
        from srlm.engines.transformers_engine import TransformersGenerator

        return TransformersGenerator(model_dir, precision=config.precision,
                                     batch_size=config.batch_size)
    if config.backend == "fake":
        from srlm.engines.fake import FakeGenerator

        return FakeGenerator(model_dir)
    if config.backend == "vllm":
        from srlm.engines.vllm_engine import VLLMGenerator

        return VLLMGenerator(model_dir, config)
    raise ConfigError(
        f"engine.backend: unknown backend '{config.backend}' (expected transformers, vllm, fake)"
    )

