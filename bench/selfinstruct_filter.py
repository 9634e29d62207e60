"""Benchmark: the self-instruct near-duplicate rule at the paper profile's sizes.

    python bench/selfinstruct_filter.py --known 18000 --candidates 300

The prompts stage checks every generated instruction against every prompt known so far
(ROUGE-L F1 >= `prompts.max_rouge_l`). The paper profile tries up to 30,000 instructions
against up to ~18,000 known ones. Known prompts here are real: the distinct first-turn prompts
of data/raw/oasst, cycled with a counter word to reach `--known` (they keep their lengths and
overlaps); candidates are other real prompts. Measured: the pure-Python dynamic programme
(the rule before rapidfuzz) on a sample of pairs, and `KnownPrompts.near_duplicate` (rapidfuzz's
C++ LCS after a length bound) per candidate; both give the same decisions (checked here on the
sample, and in tests/test_selfinstruct.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from srlm.loop.selfinstruct import KnownPrompts, rouge_l, tokens

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.helpers import reference_rouge_l as python_rouge_l  # noqa: E402  (pure Python)

OASST = ROOT / "data" / "raw" / "oasst" / "oasst2_en_firstturn_quality.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--known", type=int, default=18000)
    parser.add_argument("--candidates", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=20000, help="pairs timed in pure Python")
    parser.add_argument("--threshold", type=float, default=0.7)
    args = parser.parse_args()
    prompts = sorted({json.loads(line)["prompt_text"] for line in OASST.open()})
    split = len(prompts) // 2
    base = [tokens(p) for p in prompts[:split]]
    known = [
        words + [f"n{i // len(base)}"]
        for i, words in zip(range(args.known), base * (args.known // len(base) + 1), strict=False)
    ]
    candidates = [tokens(p) for p in prompts[split:]][: args.candidates]

    pairs = [(c, k) for c in candidates for k in known][: args.pairs]
    started = time.perf_counter()
    slow = [python_rouge_l(a, b) >= args.threshold for a, b in pairs]
    per_pair = (time.perf_counter() - started) / len(pairs)
    assert slow == [rouge_l(a, b) >= args.threshold for a, b in pairs]

    bulk = KnownPrompts(known)
    started = time.perf_counter()
    flags = [bulk.near_duplicate(c, args.threshold) for c in candidates]
    per_candidate = (time.perf_counter() - started) / len(candidates)
    python_per_candidate = per_pair * len(known)
    paper_checks = 30000  # prompts.n_generate of profiles/paper.yaml
    print(
        f"known prompts: {len(known)}, candidates: {len(candidates)} ({sum(flags)} near-duplicates)"
    )
    print(
        f"pure Python: {per_pair * 1e6:.1f} us a pair = {python_per_candidate:.2f} s a "
        f"candidate against all known"
    )
    print(
        f"KnownPrompts.near_duplicate: {per_candidate * 1e3:.2f} ms a candidate "
        f"({python_per_candidate / per_candidate:.0f}x)"
    )
    print(
        f"paper profile ({paper_checks} candidates, known growing to {len(known)}; half on "
        f"average): pure Python ~{paper_checks * python_per_candidate / 2 / 3600:.1f} h, "
        f"now ~{paper_checks * per_candidate / 2 / 60:.1f} min"
    )
    print(
        json.dumps(
            {
                "known": len(known),
                "candidates": len(candidates),
                "python_us_per_pair": round(per_pair * 1e6, 1),
                "python_s_per_candidate": round(python_per_candidate, 3),
                "rapidfuzz_ms_per_candidate": round(per_candidate * 1e3, 2),
                "speedup": round(python_per_candidate / per_candidate),
            }
        )
    )


if __name__ == "__main__":
    main()
