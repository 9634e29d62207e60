"""Benchmark: one model's chain of generating stages, each starting vLLM in its own process
(as `dvc repro` runs them today) against one long-lived local vLLM server that every stage
sends its requests to (issue 22, item 4: one server per model, if it pays).

    python bench/server_chain.py --model data/models/m1
    python bench/server_chain.py --model data/models/m1 --scale 2 --concurrency 64

The chain is the four generating stages a model goes through, each at `--scale` times the
default run's size (real text: the shipped oasst2 first turns):
- candidates: 8 prompts x 4 samples, T 0.7, up to 192 new tokens;
- judgments: 8 x 4 candidates' worth of judge prompts (16 here), 3 samples, up to 32 tokens;
- answers: 18 prompts, greedy, up to 192 tokens;
- ifeval: 16 prompts, greedy, up to 384 tokens.
`in-process`: each stage is a child process that imports srlm, starts vLLM
(`engine.backend: vllm`) and generates, as a stage does. `server`: one server starts first
(`srlm.engines.vllm_server.LocalVllmServer`, the same engine arguments; its engine core runs
in a process of its own, where the in-process engine on a CPU keeps it in the stage's
process), then each stage is a child process that sends its requests over HTTP
(`ChatEndpointGenerator`, `--concurrency` in flight). Both use the same seeds; the result
says how many texts came out equal. Reported per mode: the server's start-up, each stage's
wall time and tokens, the chain's total. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from engines import oasst_pairs
from measure import report, run_child

STAGES = {  # name: (requests, samples each, temperature, max new tokens)
    "candidates": (8, 4, 0.7, 192),
    "judgments": (16, 3, 0.7, 32),
    "answers": (18, 1, 0.0, 192),
    "ifeval": (16, 1, 0.0, 384),
}


def stage_requests(stage: str, scale: int) -> list:
    from srlm.loop.judge_prompt import render_judge_prompt
    from srlm.runtime.requests import user_request

    count, n, temperature, max_new = STAGES[stage]
    # each stage its own prompts at any scale: a long-lived server's prefix cache must not
    # get hits that a fresh in-process engine cannot
    first = list(STAGES).index(stage) * 100 * scale  # stages have at most 100 prompts a scale
    pairs = oasst_pairs(first, count * scale)
    return [
        user_request(
            f"{stage}-{i}",
            render_judge_prompt(prompt, reply) if stage == "judgments" else prompt,
            n=n,
            temperature=temperature,
            max_new_tokens=max_new,
            seed=1000 + i,
        )
        for i, (prompt, reply) in enumerate(pairs)
    ]


def engine_config(args):
    from srlm.core.params import EngineParams

    return EngineParams(backend="vllm", precision=args.precision, kv_cache_gib=args.kv_cache_gib)


def run_stage(args) -> dict:
    """One stage in this (child) process: start the engine or connect, generate, report."""
    started = time.perf_counter()
    if args.url:
        from srlm.engines.chat_endpoint import ChatEndpointGenerator

        generator = ChatEndpointGenerator(
            args.url, "bench", api_key_env=None, timeout_s=600, concurrency=args.concurrency
        )
    else:
        from srlm.engines import make_generator

        generator = make_generator(args.model, engine_config(args))
    done = generator.generate(stage_requests(args.stage, args.scale))
    # a reply without logprobs lists no tokens: the server's own count is the figure there
    tokens = generator.usage()["completion_tokens"] if args.url else sum(c.n_tokens for c in done)
    return {
        "stage": args.stage,
        "tokens": tokens,
        "texts": [c.text for c in done],
        "generate_s": round(time.perf_counter() - started, 2),
    }


def chain(args, url: str | None) -> list[dict]:
    results = []
    for stage in STAGES:
        child = ["bench/server_chain.py", "--stage", stage, "--model", args.model]
        child += ["--scale", str(args.scale), "--precision", args.precision]
        child += ["--kv-cache-gib", str(args.kv_cache_gib)]
        child += ["--concurrency", str(args.concurrency)] + (["--url", url] if url else [])
        results.append(run_child(child))
        print({k: v for k, v in results[-1].items() if k != "texts"}, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/models/m1")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--kv-cache-gib", type=float, default=2.0)
    parser.add_argument("--stage", help=argparse.SUPPRESS)  # set in the child process
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        report(run_stage(args))
        return
    from srlm.engines.vllm_server import LocalVllmServer

    local = chain(args, None)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "server.log"
        with LocalVllmServer(Path(args.model), "bench", engine_config(args), log) as server:
            startup = time.perf_counter() - started
            print({"server_start_s": round(startup, 1)}, flush=True)
            remote = chain(args, server.url)
    equal = sum(
        a == b
        for x, y in zip(local, remote, strict=True)
        for a, b in zip(x["texts"], y["texts"], strict=True)
    )
    total = sum(len(x["texts"]) for x in local)
    result = {
        "model": args.model,
        "scale": args.scale,
        "concurrency": args.concurrency,
        "stages": {
            x["stage"]: {
                "in_process_s": x["wall_s"],
                "through_server_s": y["wall_s"],
                "tokens": [x["tokens"], y["tokens"]],
            }
            for x, y in zip(local, remote, strict=True)
        },
        "in_process_total_s": round(sum(x["wall_s"] for x in local), 1),
        "server_start_s": round(startup, 1),
        "server_total_s": round(startup + sum(y["wall_s"] for y in remote), 1),
        "equal_texts": f"{equal} of {total}",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
