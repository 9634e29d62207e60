"""Batched generation with transformers: the CPU default, also usable on a GPU.

Requests are expanded to one row per completion, sorted by prompt length (less padding),
left-padded and run in batches under `torch.inference_mode`, in bf16 where the hardware has
it. Sampling is done per row by `PerRowSampler` with a generator seeded from the request's
seed and completion index, so a completion does not depend on the order of requests or on
its batch neighbours' random draws (in bf16, padding can still shift logits slightly).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessor, LogitsProcessorList

from srlm.engines.base import Completion, GenerationRequest
from srlm.hardware import device, resolve_precision

log = logging.getLogger(__name__)


def row_seed(seed: int, index: int) -> int:
    """The sampling seed of completion `index` of a request seeded `seed`."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{index}".encode()).digest()[:8], "little") >> 1


class PerRowSampler(LogitsProcessor):
    """Samples each row with its own generator and returns logits that make argmax pick it.

    Used with `do_sample=False`: temperature and top-p are applied here, greedy rows
    (temperature 0) pass through unchanged.
    """

    def __init__(self, temperatures: list[float], top_ps: list[float], seeds: list[int]):
        self.temperatures = temperatures
        self.top_ps = top_ps
        self.generators = []
        for seed in seeds:
            generator = torch.Generator(device="cpu")
            generator.manual_seed(seed)
            self.generators.append(generator)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        out = scores.clone()
        settings = zip(self.temperatures, self.top_ps, strict=True)
        for row, (temperature, top_p) in enumerate(settings):
            if temperature <= 0:
                continue
            probs = torch.softmax(scores[row].float() / temperature, dim=-1)
            if top_p < 1.0:
                sorted_probs, order = probs.sort(descending=True)
                # keep the smallest prefix whose mass reaches top_p (always the top token)
                drop = sorted_probs.cumsum(-1) - sorted_probs >= top_p
                sorted_probs[drop] = 0.0
                probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
            token = torch.multinomial(probs.cpu(), 1, generator=self.generators[row]).item()
            out[row] = float("-inf")
            out[row, token] = 0.0
        return out


class TransformersGenerator:
    def __init__(self, model_dir: str, precision: str = "auto", batch_size: int = 16):
        self.model_id = str(model_dir)
        self.batch_size = batch_size
        self.precision = resolve_precision(precision)
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device())
        self.model.eval()
        stops = {self.tokenizer.eos_token_id}
        configured = self.model.generation_config.eos_token_id
        if configured is not None:
            stops |= set(configured if isinstance(configured, list) else [configured])
        self.stop_ids = sorted(stops)

    def _prompt_ids(self, request: GenerationRequest) -> list[int]:
        ids = self.tokenizer.apply_chat_template(
            request.chat(), add_generation_prompt=True, tokenize=True, return_dict=False
        )
        return list(ids["input_ids"]) if isinstance(ids, dict) else list(ids)

    @torch.inference_mode()
    def _run_batch(self, rows: list[tuple[GenerationRequest, int, list[int]]]) -> list[Completion]:
        width = max(len(ids) for _, _, ids in rows)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for _, _, ids in rows])
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for _, _, ids in rows])
        sampler = PerRowSampler(
            [r.temperature for r, _, _ in rows],
            [r.top_p for r, _, _ in rows],
            [row_seed(r.seed, i) for r, i, _ in rows],
        )
        output = self.model.generate(
            input_ids=input_ids.to(self.model.device),
            attention_mask=mask.to(self.model.device),
            max_new_tokens=max(r.max_new_tokens for r, _, _ in rows),
            do_sample=False,
            logits_processor=LogitsProcessorList([sampler]),
            eos_token_id=self.stop_ids,
            pad_token_id=pad,
        )
        completions = []
        for (request, index, _), generated in zip(rows, output[:, width:].tolist(), strict=True):
            tokens, finish = [], "length"
            for token in generated[: request.max_new_tokens]:
                if token in self.stop_ids:
                    finish = "stop"
                    break
                tokens.append(token)
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            completions.append(Completion(request.request_id, index, text.strip(),
                                          len(tokens), finish))
        return completions

    def generate(
        self, requests: Sequence[GenerationRequest], progress: bool = True
    ) -> list[Completion]:
        """All completions, batched by prompt length; returned in request order."""
        rows = [(r, i, self._prompt_ids(r)) for r in requests for i in range(r.n)]
        # Length-sorted batches waste less compute on padding; the tie-break keeps it total.
        rows.sort(key=lambda row: (len(row[2]), row[0].request_id, row[1]))
        done: dict[tuple[str, int], Completion] = {}
        with tqdm(total=len(rows), desc="generate", unit="seq", disable=not progress) as bar:
            for start in range(0, len(rows), self.batch_size):
                for completion in self._run_batch(rows[start : start + self.batch_size]):
                    done[(completion.request_id, completion.index)] = completion
                bar.update(min(self.batch_size, len(rows) - start))
        return [done[(r.request_id, i)] for r in requests for i in range(r.n)]
