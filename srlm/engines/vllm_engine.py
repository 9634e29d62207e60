"""vLLM generation for GPUs: prefix caching (the judge rubric is a long shared prefix),
tensor parallelism from params, `n` completions per request in one call.

vllm is imported when the engine is built, so srlm works without the `gpu` extra. Each
request carries its own seed in `SamplingParams`, so results do not depend on batching.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from srlm.core.errors import SrlmError
from srlm.core.hardware import resolve_precision
from srlm.core.requests import Completion, GenerationRequest
from srlm.engines.base import (
    continuation_ids,
    token_offsets,
    watch_token_ids,
)


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
                # top-20 logprobs per step give the watched tokens' probabilities (an option
                # outside the top 20 counts 0)
                logprobs=20 if r.watch else None,
            )
            for r in requests
        ]
        outputs = self.llm.chat([r.chat() for r in requests], params, use_tqdm=True)
        tokenizer = self.llm.get_tokenizer()
        completions = []
        for request, output in zip(requests, outputs, strict=True):
            groups = watch_token_ids(tokenizer, request.watch) if request.watch else None
            for index, choice in enumerate(output.outputs):
                finish = "length" if choice.finish_reason == "length" else "stop"
                watched = offsets = None
                text = choice.text.strip()
                if groups is not None and choice.logprobs is not None:
                    text, offsets = token_offsets(tokenizer, list(choice.token_ids))
                    watched = tuple(
                        tuple(sum(math.exp(step[i].logprob) for i in ids if i in step)
                              for ids in groups)
                        for step in choice.logprobs)
                completions.append(Completion(request.request_id, index, text,
                                              len(choice.token_ids), finish,
                                              watched=watched, offsets=offsets))
        return completions

    def option_probabilities(
        self, requests: Sequence[GenerationRequest], prefixes: Sequence[str],
        options: Sequence[str],
    ) -> list[list[float]]:
        """P(option | chat, assistant prefix) from the top-20 next-token logprobs; an option
        outside the top 20 gets probability 0. Prefix caching makes the shared chat cheap."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        tokenizer = self.llm.get_tokenizer()
        prompts, wanted = [], []
        for request, prefix in zip(requests, prefixes, strict=True):
            prefix_ids, option_ids = continuation_ids(tokenizer, prefix, options)
            chat_ids = tokenizer.apply_chat_template(request.chat(), add_generation_prompt=True,
                                                     tokenize=True)
            prompts.append(TokensPrompt(prompt_token_ids=list(chat_ids) + prefix_ids))
            wanted.append(option_ids)
        params = SamplingParams(max_tokens=1, temperature=0.0, logprobs=20)
        outputs = self.llm.generate(prompts, params, use_tqdm=True)
        probabilities = []
        for output, option_ids in zip(outputs, wanted, strict=True):
            top = output.outputs[0].logprobs[0]
            probabilities.append(
                [math.exp(top[i].logprob) if i in top else 0.0 for i in option_ids])
        return probabilities
