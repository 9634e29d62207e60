"""Run the whole pipeline under a profile in a scratch copy of the project, and keep its results.

    .venv/bin/python studies/run_profile.py --profile profiles/cpu_study.yaml
    .venv/bin/python studies/run_profile.py --profile profiles/cpu_study.yaml --dry-run
    .venv/bin/python studies/run_profile.py --profile profiles/cpu_study.yaml --workdir ../work

(the last one resumes when run again after a kill or a failure)

The profile (overrides only) is merged over params.yaml and checked; the project's code and
shipped data are copied into the work folder (a new scratch folder, or `--workdir`), and
`dvc repro` runs there with its output streamed, each "Running stage" line stamped with the
time. Stage times (from one "Running stage" line to the next) go to `stage_times.csv` in the
work folder, kept across resumed runs. At the end the results are copied to
`studies/<profile stem>/` (or `--out`): metrics/ (JSON and CSV), reports/ (summary.md, plots),
the merged params.yaml, dvc.lock, stage_times.csv and a README.md whose run block (the command,
machine, date, commit, wall time, stage times) is rewritten while any text around it is kept.

A work folder that already holds a project is resumed, not copied again: its code stays as it
was, its params.yaml is the profile merged over the defaults that code was copied with
(params.defaults.yaml), and DVC reruns only what is not done (the candidates and judgments
stages also keep their finished shards). A scratch folder the script made itself is removed
after a successful run; after a failure its path is printed.
"""

from __future__ import annotations

import argparse
import csv
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml
from scratch_project import (  # first: it puts this checkout's srlm on the path
    DEFAULTS_FILE,
    ROOT,
    ProfileError,
    dvc_command,
    dvc_env,
    merged_params,
    project_copy,
    write_params,
)
from study_record import collect_results, machine, write_readme

from srlm.core.errors import SrlmError
from srlm.core.hardware import bf16_supported
from srlm.core.params import Params, from_dict

RUNNING = re.compile(r"Running stage '([^']+)'")
TIMES_FILE = "stage_times.csv"


def checked_params(profile: Path) -> dict:
    """The merged params, validated like a stage reads them (types, ranges, known keys)."""
    params = merged_params(profile)
    try:
        from_dict(Params, params)
    except SrlmError as err:
        raise ProfileError(f"{profile}: {err}") from None
    return params


def stage_seconds(events: list[tuple[str, float]], end: float) -> dict[str, float]:
    """Seconds per stage from the times its "Running stage" line appeared: each stage lasts
    until the next one starts (DVC's own bookkeeping between them included), the last until
    `end`."""
    bounds = [t for _, t in events[1:]] + [end]
    return {
        stage: round(stop - start, 1) for (stage, start), stop in zip(events, bounds, strict=True)
    }


def read_times(path: Path) -> dict[str, tuple[float, str]]:
    """Seconds and machine per stage (a file from before the machine column: machine "")."""
    if not path.exists():
        return {}
    with path.open(newline="") as handle:
        return {
            row["stage"]: (float(row["seconds"]), row.get("machine") or "")
            for row in csv.DictReader(handle)
        }


def write_times(path: Path, times: dict[str, tuple[float, str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["stage", "seconds", "machine"])
        writer.writerows((stage, seconds, where) for stage, (seconds, where) in times.items())


def repro(project: Path, targets: list[str], dry: bool = False) -> tuple[list[str], float]:
    """`dvc repro` in `project`, its output passed through as it comes; returns the stages
    that ran (in order) and the wall time. Times of a real run go to stage_times.csv."""
    sys.stdout.flush()  # what was printed before goes before DVC's bytes
    started = time.time()
    events: list[tuple[str, float]] = []
    # --force in a dry run: a fresh copy has no outputs, so everything runs anyway, and
    # without it DVC stops at the first stage whose input is not built yet
    process = subprocess.Popen(
        dvc_command("repro", *(["--dry", "--force"] if dry else []), *targets),
        cwd=project,
        env=dvc_env(project),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    # bytes, split on "\n" only: progress bars redraw with "\r" and pass through untouched
    for raw in iter(process.stdout.readline, b""):
        match = RUNNING.search(raw.decode("utf-8", "replace"))
        if match:
            now = time.time()
            events.append((match.group(1), now))
            if not dry:
                raw = f"[{datetime.now():%H:%M:%S}] ".encode() + raw
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()
    code = process.wait()
    end = time.time()
    if not dry and events:
        times = read_times(project / TIMES_FILE)
        # a resumed study may run on another machine: each stage keeps the one it ran on
        here = machine()
        times.update(
            {stage: (seconds, here) for stage, seconds in stage_seconds(events, end).items()}
        )
        write_times(project / TIMES_FILE, times)
    if code != 0:
        raise SystemExit(
            f"dvc repro failed (exit {code}) in {project}; run the same command "
            f"with --workdir {project} to resume"
        )
    return [stage for stage, _ in events], end - started


def dry_run(params: dict, targets: list[str]) -> None:
    print(yaml.safe_dump(params, sort_keys=False))
    with tempfile.TemporaryDirectory(prefix="study-dry-") as folder:
        project = project_copy(Path(folder), params)
        subprocess.run(
            dvc_command("init", "--no-scm", "-q"), cwd=project, env=dvc_env(project), check=True
        )
        stages, _ = repro(project, targets, dry=True)
    print(f"\n{len(stages)} stages would run: {' '.join(stages)}")


def prepare(workdir: Path | None, stem: str, params: dict, profile: Path) -> tuple[Path, bool]:
    """The project to run in, and whether this script made it (and may remove it). A resumed
    one gets the profile merged over the defaults its code was copied with (`DEFAULTS_FILE`;
    its own params.yaml in a folder made before that file existed, which keeps any override
    the profile has dropped since), not over this checkout's params.yaml, whose newer groups
    its code would reject."""
    if workdir is not None and (workdir / "dvc.yaml").exists():
        print(f"resuming in {workdir} (its code and defaults as copied before; the profile now)")
        defaults = workdir / DEFAULTS_FILE
        try:
            params = merged_params(
                profile, defaults if defaults.exists() else workdir / "params.yaml"
            )
        except ProfileError as err:
            raise SystemExit(f"error: {err} (in the work folder {workdir})") from None
        write_params(workdir, params)
        return workdir, False
    made = workdir is None
    if made:
        workdir = Path(tempfile.mkdtemp(prefix=f"{stem}-"))
    else:
        workdir.mkdir(parents=True, exist_ok=True)
    project_copy(workdir, params)
    subprocess.run(
        dvc_command("init", "--no-scm", "-q"), cwd=workdir, env=dvc_env(workdir), check=True
    )
    print(f"project copied to {workdir}")
    return workdir, made


def shown_command(argv: list[str]) -> str:
    """The command as run, without the work folder's path (a machine path, not the study's)."""
    shown = ["python", "studies/run_profile.py"]
    skip = False
    for arg in argv:
        if skip:
            shown.append("<workdir>")
            skip = False
            continue
        skip = arg == "--workdir"
        path = Path(arg)
        shown.append(
            str(path.relative_to(ROOT)) if path.is_absolute() and path.is_relative_to(ROOT) else arg
        )
    return shlex.join(shown)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--profile", type=Path, required=True, help="overrides of params.yaml")
    parser.add_argument("--out", type=Path, help="results folder (default: studies/<stem>/)")
    parser.add_argument("--workdir", type=Path, help="run (or resume) the project here")
    parser.add_argument(
        "--until",
        metavar="STAGE",
        nargs="+",
        help="build only these stages and what they need (in this order: "
        "e.g. the loop first, then the evaluations that matter most)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the merged params and the stages that would run",
    )
    args = parser.parse_args(argv)
    try:
        params = checked_params(args.profile)
    except ProfileError as err:
        raise SystemExit(f"error: {err}") from None
    targets = args.until or []
    if args.dry_run:
        dry_run(params, targets)
        return
    stem = args.profile.stem
    out = args.out or ROOT / "studies" / stem
    print(f"machine: {machine()}")
    if not bf16_supported():  # the profiles' time budgets are measured in bf16
        print(
            "warning: no bf16 on this machine (avx512_bf16 / AMX): every stage runs in "
            "fp32, about half as fast (BENCHMARKS.md, fp32 rows)"
        )
    workdir = args.workdir.resolve() if args.workdir else None
    project, made = prepare(workdir, stem, params, args.profile)
    started = datetime.now(UTC)
    # one `dvc repro` a target, in the order given: DVC orders several targets by its graph
    # alone, and a study cut short should have built the ones named first
    ran: list[str] = []
    seconds = 0.0
    for group in [[target] for target in targets] or [[]]:
        stages, took = repro(project, group)
        ran += stages
        seconds += took
    collect_results(project, out)
    write_readme(
        out / "README.md",
        command=shown_command(argv),
        started=started,
        seconds=seconds,
        ran=ran,
        times=read_times(project / TIMES_FILE),
        until=" ".join(targets) or None,
    )
    print(f"results in {out} ({len(ran)} stages ran, {seconds / 60:.1f} min)")
    if made:
        shutil.rmtree(project)


if __name__ == "__main__":
    main()
