"""Benchmark: batched transformers generation vs a plain one-prompt-at-a-time `generate` loop.

    .venv/bin/python bench/generation.py --model data/models/m1 --prompts 32 --max-new-tokens 64

Both paths generate the same number of new tokens for the same prompts (real IFT-style
prompts from the embedded seed set, sampled at T 0.7); the script prints tokens/s for each and
the speed-up. Run it on an otherwise idle machine; numbers go in the README.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from srlm.core.requests import user_request
from srlm.engines.transformers_engine import TransformersGenerator

SEED = Path(__file__).resolve().parents[1] / "srlm" / "seed_data" / "train.trees.jsonl"


def load_prompts(n: int) -> list[str]:
    trees = [json.loads(line) for line in SEED.read_text().splitlines() if line.strip()]
    prompts = [t["prompt"]["text"] for t in trees]
    return (prompts * (n // len(prompts) + 1))[:n]


def naive(model_dir: str, prompts: list[str], max_new_tokens: int) -> tuple[int, float]:
    """One prompt at a time, fp32, the way a first script would do it."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tokens, started = 0, time.perf_counter()
    for prompt in prompts:
        ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                            add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True)
        with torch.no_grad():
            out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=True,
                                 temperature=0.7, top_p=0.9, min_new_tokens=max_new_tokens)
        tokens += out.shape[1] - ids["input_ids"].shape[1]
    return tokens, time.perf_counter() - started


def batched(model_dir: str, prompts: list[str], max_new_tokens: int, batch_size: int,
            precision: str) -> tuple[int, float]:
    generator = TransformersGenerator(model_dir, precision=precision, batch_size=batch_size)
    requests = [user_request(str(i), p, max_new_tokens=max_new_tokens, temperature=0.7,
                             top_p=0.9, seed=i) for i, p in enumerate(prompts)]
    started = time.perf_counter()
    completions = generator.generate(requests, progress=False)
    return sum(c.n_tokens for c in completions), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/models/m1")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--naive-prompts", type=int, default=8,
                        help="prompts for the slow baseline (its rate is per token)")
    args = parser.parse_args()
    prompts = load_prompts(args.prompts)
    n_tokens, seconds = naive(args.model, prompts[: args.naive_prompts], args.max_new_tokens)
    base_rate = n_tokens / seconds
    print(f"one at a time, fp32: {n_tokens} tokens in {seconds:.1f} s = {base_rate:.1f} tok/s")
    for precision in ("fp32", "bf16"):
        n_tokens, seconds = batched(args.model, prompts, args.max_new_tokens, args.batch_size,
                                    precision)
        rate = n_tokens / seconds
        print(f"batched ({args.batch_size}), {precision}: {n_tokens} tokens in {seconds:.1f} s "
              f"= {rate:.1f} tok/s ({rate / base_rate:.1f}x)")


if __name__ == "__main__":
    main()
