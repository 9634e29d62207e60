"""Every benchmark run kept, and the latest one of each kind of CPU.

bench/results.json holds `{"runs": [...]}`, one entry a `make bench` run (its machine, date and
commit in `machine`), oldest first. A run never replaces another; BENCHMARKS.md shows the
latest run of each CPU kind side by side (`report.render_runs`), so a run on an Intel Xeon no
longer overwrites the AMD EPYC's figures. A file from before (one run as the whole object) is
read as a list of that one run.
"""

from __future__ import annotations

import json
from pathlib import Path


def machine_kind(machine: dict) -> str:
    """The CPU kind a run's figures belong to: its model and the features that change which
    kernels run (bf16 ones on AVX-512 BF16, AMX tiles on recent Xeons, neither on AVX2)."""
    if machine.get("amx"):
        features = "AMX"
    elif machine.get("avx512_bf16"):
        features = "AVX-512 BF16"
    elif machine.get("avx512"):
        features = "AVX-512"
    else:
        features = "no AVX-512"
    return f"{machine['cpu']} ({features}, {machine['cores']} cores)"


def load_runs(path: str | Path) -> list[dict]:
    """Every run recorded in `path` (none when it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    if isinstance(data, dict) and "runs" in data:
        return list(data["runs"])
    return [data] if isinstance(data, dict) and "machine" in data else []


def save_runs(path: str | Path, runs: list[dict]) -> None:
    Path(path).write_text(json.dumps({"runs": runs}, indent=1) + "\n")


def latest_per_kind(runs: list[dict]) -> dict[str, dict]:
    """The newest run of each CPU kind, kinds in the order they were first measured."""
    latest: dict[str, dict] = {}
    for run in runs:
        kind = machine_kind(run["machine"])
        if kind not in latest or run["machine"]["date"] >= latest[kind]["machine"]["date"]:
            latest[kind] = run
    return latest
