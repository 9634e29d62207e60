"""Benchmark: the data view (`srlm view`) of one iteration at the paper's scale.

    python bench/view_pages.py --prompts 25000 --candidates 4 --samples 3

Builds one synthetic iteration in a temporary folder: prompts, N candidates each with answers
of ~120 words, K judge samples per candidate with the judge's text and score probabilities,
and a pair for most prompts (25,000 prompts x 4 = 100,000 candidates, 300,000 judge samples,
as `profiles/paper.yaml`'s iterations). Then runs `srlm view` as a user does, in its own
process (process start and reading the artifacts included). Reported: wall time, peak memory,
pages written, and each page's size (median and largest). Then the largest page is opened in
headless Chromium (bench/browser.py; skipped, and said so, where there is none) from the file
system, `--opens` times: the time from navigation to the load event (the page parsed, laid out,
its CSS and scripts run, flags.js included) and the time a filter takes (a click on "with a
pair" until the page and the counts across pages are updated). Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import polars as pl
from browser import chromium, missing
from measure import run_child, summary

from srlm.core.artifacts import write_artifact

WORDS = "the model answers the question with a clear and careful explanation of each step".split()


def answer(i: int) -> str:
    return " ".join(WORDS[(i + k) % len(WORDS)] for k in range(120))


def build(root: Path, n_prompts: int, n_candidates: int, n_samples: int) -> None:
    ids = [f"p{i:06d}" for i in range(n_prompts)]
    prompts = pl.DataFrame(
        {
            "prompt_id": ids,
            "prompt": [f"Explain topic {i}." for i in ids],
            "iteration": ["m2"] * n_prompts,
            "generator": ["m1"] * n_prompts,
            "fewshot_ids": [["s1", "s2", "s3"]] * n_prompts,
        }
    )
    cand = [
        (p, f"{p}-{k}", i * n_candidates + k)
        for i, p in enumerate(ids)
        for k in range(n_candidates)
    ]
    candidates = pl.DataFrame(
        {
            "prompt_id": [p for p, _, _ in cand],
            "candidate_id": [c for _, c, _ in cand],
            "prompt": [f"Explain topic {p}." for p, _, _ in cand],
            "response": [answer(n) for _, _, n in cand],
            "model": ["m1"] * len(cand),
            "seed": [n for _, _, n in cand],
            "n_tokens": [160] * len(cand),
            "finish_reason": ["stop"] * len(cand),
        }
    )
    score = {c: float(n % 6) for _, c, n in cand}
    judgments = pl.DataFrame(
        {
            "prompt_id": [p for p, _, _ in cand for _ in range(n_samples)],
            "candidate_id": [c for _, c, _ in cand for _ in range(n_samples)],
            "sample": [s for _ in cand for s in range(n_samples)],
            "judge_text": [f"Score: {int(score[c])}" for _, c, _ in cand for _ in range(n_samples)],
            "score": [score[c] for _, c, _ in cand for _ in range(n_samples)],
            "expected_score": [score[c] for _, c, _ in cand for _ in range(n_samples)],
            "score_probs": [[0.1, 0.1, 0.2, 0.2, 0.2, 0.2]] * (len(cand) * n_samples),
        }
    )
    scores = pl.DataFrame(
        {
            "prompt_id": [p for p, _, _ in cand],
            "candidate_id": [c for _, c, _ in cand],
            "mean_score": [score[c] for _, c, _ in cand],
            "n_parsed": [n_samples] * len(cand),
            "sampled_score": [score[c] for _, c, _ in cand],
            "expected_score": [score[c] for _, c, _ in cand],
        }
    )
    rows = []
    for i, p in enumerate(ids):
        group = [(c, n) for q, c, n in cand[i * n_candidates : (i + 1) * n_candidates] if q == p]
        ranked = sorted(group, key=lambda item: score[item[0]])
        (low, nl), (high, nh) = ranked[0], ranked[-1]
        if score[high] > score[low]:
            rows.append((p, answer(nh), answer(nl), score[high], score[low]))
    pairs = pl.DataFrame(
        {
            "prompt_id": [r[0] for r in rows],
            "prompt": [f"Explain topic {r[0]}." for r in rows],
            "chosen": [r[1] for r in rows],
            "rejected": [r[2] for r in rows],
            "chosen_score": [r[3] for r in rows],
            "rejected_score": [r[4] for r in rows],
            "margin": [r[3] - r[4] for r in rows],
        }
    )
    schema = {"scores": "candidate_scores"}
    for kind, frame in (
        ("prompts", prompts),
        ("candidates", candidates),
        ("judgments", judgments),
        ("scores", scores),
        ("pairs", pairs),
    ):
        write_artifact(frame, root / "data" / "m2" / kind, schema.get(kind, kind), "bench")


def open_times(page_path: Path, opens: int) -> dict:
    """Milliseconds to open `page_path` (navigation start to load event) and to apply a
    filter, `opens` times each in a fresh tab of one headless Chromium."""
    load, filtered = [], []
    with chromium() as browser:
        for _ in range(opens):
            page = browser.new_page()
            page.goto(page_path.as_uri(), wait_until="load")
            load.append(
                page.evaluate(
                    "() => { const n = performance.getEntriesByType('navigation')[0];"
                    " return n.loadEventEnd - n.startTime; }"
                )
            )
            filtered.append(
                page.evaluate(
                    "() => { const t = performance.now();"
                    " document.querySelector('input[name=pair]').click();"
                    " document.body.getBoundingClientRect();"  # force the layout
                    " return performance.now() - t; }"
                )
            )
            page.close()
    return {"load_ms": summary(load), "filter_ms": summary(filtered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=25000)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--opens", type=int, default=5, help="browser opens of the page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-view-") as folder:
        root = Path(folder)
        build(root, args.prompts, args.candidates, args.samples)
        run = run_child(
            ["-m", "srlm.cli", "view", "--data", str(root / "data"), "--out", str(root / "view")]
        )
        pages = sorted((root / "view" / "m2").glob("page-*.html"), key=lambda p: p.stat().st_size)
        sizes = [p.stat().st_size / 2**10 for p in pages]
        flags_kib = (root / "view" / "m2" / "flags.js").stat().st_size / 2**10
        browser = missing() or open_times(pages[-1], args.opens)
        result = {
            "prompts": args.prompts,
            "candidates": args.prompts * args.candidates,
            "judge_samples": args.prompts * args.candidates * args.samples,
            "seconds": run["wall_s"],
            "peak_rss_mib": run["peak_rss_mib"],
            "pages": len(sizes),
            "page_kib_median": round(statistics.median(sizes), 1),
            "page_kib_max": round(max(sizes), 1),
            "flags_js_kib": round(flags_kib, 1),
            "browser": browser,  # a dict of timings, or why there is no browser
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
