"""Benchmark: the prompts stage's own work at the paper profile's sizes, with an instant engine.

    python bench/prompts_stage.py                     # profiles/paper.yaml: 30,000 tried
    python bench/prompts_stage.py --n-generate 3000

Runs `generate_prompts` with the paper profile's `prompts` params (30,000 generations, up to
15,000 kept, rounds of 1,024, 3,200 seed prompts as `seed.ift_size`), so what is timed is all
that is not the model: few-shot picks and rendering, cleaning, the filters and the exact
ROUGE-L near-duplicate rule against every prompt known so far (up to ~18,000). The "engine"
answers instantly with real text: seed prompts are the distinct first-turn oasst prompts
(cycled with a counter word up to 3,200), and each generation joins two other oasst prompts,
so some repeat earlier ones (near-duplicates) and most are new. Last line: JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import time

from measure import ROOT, peak_rss_mib, summary

from srlm.core.params import load_params
from srlm.loop import selfinstruct

OASST = ROOT / "data" / "raw" / "oasst" / "oasst2_en_firstturn_quality.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-generate", type=int, help="default: the paper profile's")
    parser.add_argument("--seed-prompts", type=int, default=3200)
    args = parser.parse_args()
    cfg = load_params(ROOT / "profiles" / "paper.yaml").prompts
    if args.n_generate:
        cfg = dataclasses.replace(cfg, n_generate=args.n_generate)
    prompts = sorted({json.loads(line)["prompt_text"] for line in OASST.open()})
    split = len(prompts) // 2
    seed = {
        f"s{i}": f"{text} ({i // split})"
        for i, text in zip(
            range(args.seed_prompts),
            prompts[:split] * (args.seed_prompts // split + 1),
            strict=False,
        )
    }
    pool, rng = prompts[split:], random.Random(0)
    calls = []

    def complete(batch):
        calls.append(len(batch))
        return [f"{rng.choice(pool)} Also, {rng.choice(pool)}" for _ in batch]

    filter_seconds = []
    near_duplicate = selfinstruct.KnownPrompts.near_duplicate

    def timed_near_duplicate(self, words, threshold):
        started = time.perf_counter()
        verdict = near_duplicate(self, words, threshold)
        filter_seconds.append(time.perf_counter() - started)
        return verdict

    selfinstruct.KnownPrompts.near_duplicate = timed_near_duplicate
    started = time.perf_counter()
    rows, _, reasons = selfinstruct.generate_prompts(complete, seed, [], "m2", cfg)
    seconds = time.perf_counter() - started
    result = {
        "n_generate": cfg.n_generate,
        "round_size": cfg.round_size,
        "engine_calls": len(calls),
        "kept": len(rows),
        "known_at_end": len(seed) + len(rows),
        "near_duplicates": reasons["near_duplicate"],
        "seconds": round(seconds, 1),
        "near_duplicate_rule_s": round(sum(filter_seconds), 1),
        "rule_ms_per_check": summary([s * 1e3 for s in filter_seconds]),
        "peak_rss_mib": peak_rss_mib(),
    }
    print(
        f"{cfg.n_generate} generations in {len(calls)} engine calls: {len(rows)} kept, "
        f"{reasons['near_duplicate']} near-duplicates; {seconds:.1f} s, of which the "
        f"near-duplicate rule {result['near_duplicate_rule_s']} s"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
