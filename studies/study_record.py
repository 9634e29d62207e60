"""What a study keeps of a run (studies/run_profile.py): its results copied out of the scratch
project, and a README block saying how, where and when they were made.

The README block sits between two markers and is rewritten on every run; text outside it (the
study's write-up) is kept, so rerunning a study never loses its analysis.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import yaml
from scratch_project import ROOT

BEGIN = "<!-- run: written by studies/run_profile.py; rewritten on every run -->"
END = "<!-- /run -->"
METRIC_SUFFIXES = (".json", ".csv")
# Besides the metrics and reports folders: what makes the run reproducible and readable.
RUN_FILES = ("params.yaml", "dvc.lock", "stage_times.csv")


def collect_results(project: Path, out: Path) -> None:
    """metrics/ (JSON and CSV), reports/ (summary, plots, paired IFEval), params, lock and
    stage times from `project` into `out`; the old metrics and reports are replaced whole, so
    no figure from an earlier run survives beside the new ones."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("metrics", "reports"):
        shutil.rmtree(out / name, ignore_errors=True)
    for path in sorted((project / "metrics").rglob("*")):
        if path.is_file() and path.suffix in METRIC_SUFFIXES:
            target = out / path.relative_to(project)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    if (project / "reports").is_dir():  # absent when --until stops before the report stage
        shutil.copytree(project / "reports", out / "reports")
    for name in RUN_FILES:
        if (project / name).exists():
            shutil.copy(project / name, out / name)
    params = out / "params.yaml"
    if params.exists():  # merged already: the profile it names is in it, and not beside it
        merged = yaml.safe_load(params.read_text(encoding="utf-8"))
        merged.pop("profile", None)
        params.write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")


def machine() -> str:
    """CPU model, cores, memory and the bf16 features that change kernels (and so bytes)."""
    from srlm.core.hardware import cpu_flags

    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    flags = cpu_flags()
    memory = ""
    if Path("/proc/meminfo").exists():
        kib = int(Path("/proc/meminfo").read_text().split()[1])  # MemTotal, first line
        memory = f", {kib / 2**20:.1f} GiB"
    features = ", ".join(
        f"{flag} {'yes' if flag in flags else 'no'}"
        for flag in ("avx512f", "avx512_bf16", "amx_tile")
    )
    return f"{model}, {os.cpu_count()} cores{memory}; {features}"


def commit() -> str:
    """HEAD of this checkout, and whether the working tree differed from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "--no-optional-locks", "-C", str(ROOT), *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain"))
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"`{head}`" + (" with uncommitted changes" if dirty else " (clean tree)")


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def run_block(
    command: str,
    started: datetime,
    seconds: float,
    ran: list[str],
    times: dict[str, tuple[float, str]],
    until: str | None,
) -> str:
    """The README's run block; `times` holds every recorded stage's seconds and machine
    (across resumed runs, which may have run on other machines: then each stage says which)."""
    machines = list(dict.fromkeys(where for _, where in times.values() if where))
    lines = [
        BEGIN,
        "## Run",
        "",
        f"- command: `{command}`" + (f" (stopped at `{until}`)" if until else ""),
        f"- machine of this run: {machine()}",
        f"- started: {started:%Y-%m-%d %H:%M} UTC",
        f"- commit: {commit()}",
        f"- wall time of this run: {minutes(seconds)}, {len(ran)} stages ran"
        f" (sum of all recorded stage times: "
        f"{minutes(sum(s for s, _ in times.values()))})",
    ]
    several = len(machines) > 1
    if several:
        lines += [f"- machine {chr(65 + i)}: {where}" for i, where in enumerate(machines)]
    lines += [
        "",
        "| stage | time |" + (" machine |" if several else ""),
        "|---|---:|" + ("---|" if several else ""),
    ]
    for stage, (took, where) in times.items():
        row = f"| `{stage}` | {minutes(took)} |"
        if several:
            row += f" {chr(65 + machines.index(where)) if where else ''} |"
        lines.append(row)
    return "\n".join([*lines, END]) + "\n"


def write_readme(path: Path, **run) -> None:
    """Replace the run block of `path` (or start the file with one), keeping the rest."""
    block = run_block(**run)
    if not path.exists():
        title = f"# Study: {path.parent.name}\n\n"
        path.write_text(title + block + "\nWhat it shows: (to be written)\n")
        return
    text = path.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1].removeprefix("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)
