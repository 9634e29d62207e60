"""Batched generation with transformers: no extra install, CPUs and GPUs.

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
from typing import cast

import torch
from tqdm.auto import tqdm
from transformers import DynamicCache, LogitsProcessor, LogitsProcessorList

from srlm.core.errors import SrlmError
from srlm.core.hardware import device, resolve_precision
from srlm.core.model_dirs import context_length, load_model_and_tokenizer
from srlm.engines.base import (
    chat_prompt_ids,
    continuation_ids,
    token_offsets,
    watch_token_ids,
)
from srlm.runtime.requests import Completion, GenerationRequest

log = logging.getLogger(__name__)


def row_seed(seed: int, index: int) -> int:
    """The sampling seed of completion `index` of a request seeded `seed`."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{index}".encode()).digest()[:8], "little") >> 1


class ContextLengthError(SrlmError):
    """A prompt plus `max_new_tokens` is longer than the model's context."""


class PerRowSampler(LogitsProcessor):
    """Samples each row with its own generator and returns logits that make argmax pick it.

    Used with `do_sample=False`: temperature and top-p are applied here, greedy rows
    (temperature 0) pass through unchanged.
    """

    def __init__(
        self,
        temperatures: list[float],
        top_ps: list[float],
        seeds: list[int],
        watch: list[list[list[int]]] | None = None,
    ):
        self.temperatures = temperatures
        self.top_ps = top_ps
        # Per row, token-id groups whose raw probabilities are recorded at every step.
        self.watch = watch or [[] for _ in temperatures]
        self.watched: list[list[tuple[float, ...]]] = [[] for _ in temperatures]
        self.generators = []
        for seed in seeds:
            generator = torch.Generator(device="cpu")
            generator.manual_seed(seed)
            self.generators.append(generator)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        out = scores.clone()
        settings = zip(self.temperatures, self.top_ps, strict=True)
        for row, (temperature, top_p) in enumerate(settings):
            if self.watch[row]:
                raw = torch.softmax(scores[row].float(), dim=-1)
                self.watched[row].append(tuple(float(raw[ids].sum()) for ids in self.watch[row]))
            if temperature <= 0:
                continue
            probs = torch.softmax(scores[row].float() / temperature, dim=-1)
            if top_p < 1.0:
                sorted_probs, order = probs.sort(descending=True)
                # keep the smallest prefix whose mass reaches top_p (always the top token)
                drop = sorted_probs.cumsum(-1) - sorted_probs >= top_p
                sorted_probs[drop] = 0.0
                probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
            token = int(torch.multinomial(probs.cpu(), 1, generator=self.generators[row]).item())
            out[row] = float("-inf")
            out[row, token] = 0.0
        # transformers annotates logits as the legacy torch.FloatTensor class, which no tensor
        # operation is typed to return; `out` is the float logits tensor it expects
        return cast(torch.FloatTensor, out)


class TransformersGenerator:
    def __init__(
        self,
        model_dir: str,
        precision: str = "auto",
        batch_size: int = 16,
        max_new_tokens_key: str = "max_new_tokens",
    ):
        self.model_id = str(model_dir)
        self.batch_size = batch_size
        self.precision = resolve_precision(precision)
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        # A missing or damaged model directory is one ModelLoadError naming the cause.
        model, self.tokenizer = load_model_and_tokenizer(
            model_dir, {"padding_side": "left"}, {"dtype": dtype}
        )
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = model.to(device())
        self.context = context_length(self.model.config.to_dict())
        self.max_new_tokens_key = max_new_tokens_key
        self.model.eval()
        stops = {self.tokenizer.eos_token_id}
        configured = self.model.generation_config.eos_token_id
        if configured is not None:
            stops |= set(configured if isinstance(configured, list) else [configured])
        self.stop_ids = sorted(stops)

    def _check_context(self, request: GenerationRequest, prompt_tokens: int) -> None:
        """A prompt plus `max_new_tokens` must fit the model's context (its position
        embeddings): beyond it a model generates garbage or fails deep inside torch."""
        if self.context is None or prompt_tokens + request.max_new_tokens <= self.context:
            return
        room = self.context - prompt_tokens
        raise ContextLengthError(
            f"{self.max_new_tokens_key}: {request.max_new_tokens} new tokens after a "
            f"{prompt_tokens}-token prompt (request {request.request_id}) exceed the context of "
            f"{self.model_id} ({self.context} tokens, max_position_embeddings); set it to at "
            f"most {max(room, 0)}" + ("" if room > 0 else " (the prompt alone is too long)")
        )

    def _prompt_ids(self, request: GenerationRequest) -> list[int]:
        return chat_prompt_ids(self.tokenizer, request.chat())

    def _shared_prefill(self, rows, input_ids: torch.Tensor, mask: torch.Tensor):
        """A KV cache of the batch's prompts (all but the last token), each distinct prompt
        computed once and copied to its rows; None when every prompt is distinct.

        A request's `n` completions share one prompt: for the judge (3 samples of a
        ~700-token prompt) the prompt pass is about half the cost, so this saves a third.
        """
        first: dict[tuple[int, ...], int] = {}
        for row, (_, _, ids) in enumerate(rows):
            first.setdefault(tuple(ids), row)
        if len(first) == len(rows) or input_ids.shape[1] < 2:
            return None
        unique = list(first.values())
        slot = {row: k for k, row in enumerate(unique)}
        select = torch.tensor([slot[first[tuple(ids)]] for _, _, ids in rows])
        cache = DynamicCache(config=self.model.config)
        prefix, prefix_mask = input_ids[unique, :-1], mask[unique, :-1]
        positions = (prefix_mask.cumsum(-1) - 1).clamp(min=0)
        self.model(
            input_ids=prefix.to(self.model.device),
            attention_mask=prefix_mask.to(self.model.device),
            position_ids=positions.to(self.model.device),
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        cache.batch_select_indices(select.to(self.model.device))
        return cache

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
            [watch_token_ids(self.tokenizer, r.watch) if r.watch else [] for r, _, _ in rows],
        )
        output = self.model.generate(
            input_ids=input_ids.to(self.model.device),
            attention_mask=mask.to(self.model.device),
            past_key_values=self._shared_prefill(rows, input_ids, mask),
            max_new_tokens=max(r.max_new_tokens for r, _, _ in rows),
            do_sample=False,
            logits_processor=LogitsProcessorList([sampler]),
            eos_token_id=self.stop_ids,
            pad_token_id=pad,
        )
        completions = []
        generated_rows = output[:, width:].tolist()
        for row, ((request, index, _), generated) in enumerate(
            zip(rows, generated_rows, strict=True)
        ):
            tokens, finish = [], "length"
            for token in generated[: request.max_new_tokens]:
                if token in self.stop_ids:
                    finish = "stop"
                    break
                tokens.append(token)
            watched: tuple[tuple[float, ...], ...] | None
            offsets: tuple[int, ...] | None
            if request.watch:
                text, offsets = token_offsets(self.tokenizer, tokens)
                watched = tuple(sampler.watched[row][: len(tokens)])
            else:
                text = self.tokenizer.decode(tokens, skip_special_tokens=True).strip()
                offsets = watched = None
            completions.append(
                Completion(
                    request.request_id,
                    index,
                    text,
                    len(tokens),
                    finish,
                    watched=watched,
                    offsets=offsets,
                )
            )
        return completions

    def generate(
        self, requests: Sequence[GenerationRequest], progress: bool = True
    ) -> list[Completion]:
        """All completions, batched by prompt length; returned in request order."""
        prompt_ids = {id(r): self._prompt_ids(r) for r in requests}
        for request in requests:
            self._check_context(request, len(prompt_ids[id(request)]))
        rows = [(r, i, prompt_ids[id(r)]) for r in requests for i in range(r.n)]
        # Length-sorted batches waste less compute on padding; the tie-break keeps it total.
        rows.sort(key=lambda row: (len(row[2]), row[0].request_id, row[1]))
        done: dict[tuple[str, int], Completion] = {}
        with tqdm(total=len(rows), desc="generate", unit="seq", disable=not progress) as bar:
            for start in range(0, len(rows), self.batch_size):
                for completion in self._run_batch(rows[start : start + self.batch_size]):
                    done[(completion.request_id, completion.index)] = completion
                bar.update(min(self.batch_size, len(rows) - start))
        return [done[(r.request_id, i)] for r in requests for i in range(r.n)]

    @torch.inference_mode()
    def option_probabilities(
        self,
        requests: Sequence[GenerationRequest],
        prefixes: Sequence[str],
        options: Sequence[str],
        progress: bool = True,
    ) -> list[list[float]]:
        """P(option | chat, assistant prefix) per request, batched by length (see base)."""
        rows = []
        for index, (request, prefix) in enumerate(zip(requests, prefixes, strict=True)):
            prefix_ids, option_ids = continuation_ids(self.tokenizer, prefix, options)
            ids = self._prompt_ids(request) + prefix_ids
            if self.context is not None and len(ids) >= self.context:
                raise ContextLengthError(
                    f"{self.model_id}: a {len(ids)}-token prompt (request "
                    f"{request.request_id}) exceeds the model's context "
                    f"of {self.context} tokens"
                )
            rows.append((index, ids, option_ids))
        rows.sort(key=lambda row: len(row[1]))
        pad = self.tokenizer.pad_token_id
        out: list[list[float]] = [[] for _ in requests]
        with tqdm(total=len(rows), desc="score options", unit="seq", disable=not progress) as bar:
            for start in range(0, len(rows), self.batch_size):
                batch = rows[start : start + self.batch_size]
                width = max(len(ids) for _, ids, _ in batch)
                input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for _, ids, _ in batch])
                mask = torch.tensor(
                    [[0] * (width - len(ids)) + [1] * len(ids) for _, ids, _ in batch]
                )
                # Left padding: positions count real tokens only, as `generate` does. Only the
                # last position's logits are needed, so the LM head skips the rest.
                positions = (mask.cumsum(-1) - 1).clamp(min=0)
                logits = self.model(
                    input_ids=input_ids.to(self.model.device),
                    attention_mask=mask.to(self.model.device),
                    position_ids=positions.to(self.model.device),
                    logits_to_keep=1,
                ).logits[:, -1, :]
                probs = torch.softmax(logits.float(), dim=-1).cpu()
                for row, (index, _, option_ids) in enumerate(batch):
                    out[index] = probs[row, option_ids].tolist()
                bar.update(len(batch))
        return out
