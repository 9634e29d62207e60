"""Benchmark: the vLLM engine against the transformers engine on the loop's two workloads.

    python bench/engines.py --model data/models/m1        # transformers, then vllm
    python bench/engines.py --engines transformers,vllm,vllm-compile,vllm-mp --answers 64

Engines: `transformers`; `vllm` as srlm runs it on a CPU (eager, engine core in this
process); `vllm-compile` (engine.compile: true); `vllm-mp` (engine core in its own process,
vLLM's default).

Workloads (real text from the embedded seed set):
- answers: `--answers` prompts, `--max-new-tokens` new tokens each, T 0.7, one seed a request
  (the candidates and answers stages);
- judge: `--judged` (prompt, human reply) pairs in the paper's judge prompt, 3 samples each,
  32 new tokens, watching the score digits (the judgments stage; the rubric is a shared
  prefix that vLLM's prefix cache reuses).
Each engine runs in its own process (one at a time: two would fight over the cores) and
reports start-up (load and warm-up), each workload's seconds and tokens/s, the whole run
(start-up included: what a stage pays) and peak memory. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "srlm" / "seed_data" / "train.trees.jsonl"
MARK = "RESULT "


def seed_pairs(n: int) -> list[tuple[str, str]]:
    """(prompt, best human reply) of the embedded seed trees, repeated up to `n`."""
    trees = [json.loads(line) for line in SEED.read_text().splitlines() if line.strip()]
    pairs = [(t["prompt"]["text"], t["prompt"]["replies"][0]["text"]) for t in trees
             if t["prompt"].get("replies")]
    return (pairs * (n // len(pairs) + 1))[:n]


def run_engine(args) -> dict:
    """Time one engine on both workloads, in this process."""
    sys.path.insert(0, str(ROOT))
    from srlm.core.config import EngineConfig, JudgeConfig
    from srlm.core.requests import user_request
    from srlm.engines import make_generator
    from srlm.loop.judge import judge_requests, judge_samples, render_judge_prompt

    started = time.perf_counter()
    backend = "transformers" if args.engine == "transformers" else "vllm"
    if args.engine == "vllm-mp":
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "1"
    generator = make_generator(args.model, EngineConfig(
        backend=backend, precision=args.precision, batch_size=args.batch_size,
        max_model_len=args.max_model_len, compile=args.engine == "vllm-compile"))
    # one short request warms caches and compiled kernels; it counts as start-up
    generator.generate([user_request("warm", "Hi", max_new_tokens=4, seed=0)])
    load = time.perf_counter() - started

    answers = [user_request(f"a{i}", prompt, max_new_tokens=args.max_new_tokens,
                            temperature=0.7, top_p=0.9, seed=i)
               for i, (prompt, _) in enumerate(seed_pairs(args.answers))]
    started = time.perf_counter()
    done = generator.generate(answers)
    answer_seconds = time.perf_counter() - started
    answer_tokens = sum(c.n_tokens for c in done)

    judge = JudgeConfig()
    requests = judge_requests([(f"j{i}", render_judge_prompt(p, r))
                               for i, (p, r) in enumerate(seed_pairs(args.judged))], judge, "bench")
    started = time.perf_counter()
    rows = judge_samples(generator, requests)
    judge_seconds = time.perf_counter() - started
    return {
        "engine": args.engine, "load_s": round(load, 1),
        "answers": len(answers), "answer_tokens": answer_tokens,
        "answer_s": round(answer_seconds, 1),
        "answer_tok_s": round(answer_tokens / answer_seconds, 1),
        "judged": len(requests), "judge_samples": len(rows),
        "judge_s": round(judge_seconds, 1),
        "judged_per_s": round(len(requests) / judge_seconds, 2),
        "parsed": sum(r["score"] is not None for r in rows),
        "whole_run_s": round(load + answer_seconds + judge_seconds, 1),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/models/m1")
    parser.add_argument("--engines", default="transformers,vllm")
    parser.add_argument("--engine", help=argparse.SUPPRESS)  # set in the child process
    parser.add_argument("--answers", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--judged", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--max-model-len", type=int, default=4096)
    args = parser.parse_args()
    if args.engine:
        print(MARK + json.dumps(run_engine(args)))  # vLLM prints to stdout too
        return
    results = []
    for engine in args.engines.split(","):
        child = [sys.executable, __file__, "--engine", engine, "--model", args.model,
                 "--answers", str(args.answers), "--max-new-tokens", str(args.max_new_tokens),
                 "--judged", str(args.judged), "--batch-size", str(args.batch_size),
                 "--precision", args.precision, "--max-model-len", str(args.max_model_len)]
        out = subprocess.run(child, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"{engine} failed:\n{out.stderr[-3000:]}")
        results.append(json.loads(next(line[len(MARK):] for line in out.stdout.splitlines()
                                        if line.startswith(MARK))))
        print(results[-1], flush=True)
    base = results[0]
    for other in results[1:]:
        print(f"{other['engine']} vs {base['engine']}: answers tok/s "
              f"{other['answer_tok_s'] / base['answer_tok_s']:.2f}x, judged/s "
              f"{other['judged_per_s'] / base['judged_per_s']:.2f}x, whole run "
              f"{base['whole_run_s'] / other['whole_run_s']:.2f}x as fast")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
