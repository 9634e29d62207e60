"""What every benchmark here shares: running a measured child process, and summarising repeats.

A benchmark runs its workloads in child processes, one at a time (two torch jobs on 2 cores
slow each other 5-8x), so that each child's peak memory is its own (`os.wait4` returns the
child's own resource use) and an engine's start-up is paid where a stage pays it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK = "RESULT "  # the line a child prints its result on (libraries print to stdout too)


def run_child(args: list[str], keep_stdout: bool = False) -> dict:
    """Run `python args...` from the repository root; its result line (JSON, after `MARK`)
    plus `wall_s` and `peak_rss_mib` of that process alone (and `stdout` with `keep_stdout`).
    Exits with its stderr on failure."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, stdout=out, stderr=err, text=True
        )
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{stderr[-3000:]}")
    result = next(
        (json.loads(line[len(MARK) :]) for line in stdout.splitlines() if line.startswith(MARK)), {}
    )
    result["wall_s"] = round(wall, 2)
    result["peak_rss_mib"] = round(usage.ru_maxrss / 1024)
    if keep_stdout:
        result["stdout"] = stdout
    return result


def report(result) -> None:
    """Print a child's result on the line its parent reads."""
    print(MARK + json.dumps(result), flush=True)


def peak_rss_mib() -> int:
    """Peak resident memory of this process so far, MiB."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def summary(values: list[float]) -> dict:
    """Median and spread (min, max) of repeated measurements."""
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "n": len(values),
    }
