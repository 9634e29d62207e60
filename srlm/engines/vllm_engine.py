"""vLLM generation for GPUs: prefix caching (the judge rubric is a long shared prefix),
tensor parallelism from params, `n` completions per request in one call.

vllm is imported when the engine is built, so srlm works without the `gpu` extra. Each
request carries its own seed in `SamplingParams`, so results do not depend on batching.
"""

from __future__ import annotations

from collections.abc import Sequence

from srlm.engines.base import Completion, GenerationRequest
from srlm.errors import SrlmError
from srlm.hardware import resolve_precision


class VLLMGenerator:
    def __init__(self, model_dir: str, config):
        try:
            from vllm import LLM
        except ImportError:
            raise SrlmError(
                "engine.backend is 'vllm' but vllm is not installed: pip install 'srlm[gpu]'"
            ) from None
        self.model_id = str(model_dir)
        precision = resolve_precision(config.precision)
        self.llm = LLM(
            model=str(model_dir),
            dtype="bfloat16" if precision == "bf16" else "float32",
            tensor_parallel_size=config.tensor_parallel_size,
            gpu_memory_utilization=config.gpu_memory_utilization,
            max_model_len=config.max_model_len,
            enable_prefix_caching=True,
            seed=0,
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        """All completions in request order (`n` per request)."""
        from vllm import SamplingParams

        params = [
            SamplingParams(
                n=r.n, temperature=r.temperature, top_p=r.top_p if r.temperature > 0 else 1.0,
                max_tokens=r.max_new_tokens, seed=r.seed,
            )
            for r in requests
        ]
        outputs = self.llm.chat([r.chat() for r in requests], params, use_tqdm=True)
        completions = []
        for request, output in zip(requests, outputs, strict=True):
            for index, choice in enumerate(output.outputs):
                finish = "length" if choice.finish_reason == "length" else "stop"
                completions.append(Completion(request.request_id, index, choice.text.strip(),
                                              len(choice.token_ids), finish))
        return completions
