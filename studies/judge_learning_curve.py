"""Study: a judge's learning curve — M1 trained with more and more EFT examples, each judged
against the human rankings of all of oasst1 validation, with 95% bootstrap intervals.

    .venv/bin/python studies/judge_learning_curve.py --points 40 160 640 \
        --out reports/judge_learning_curve.md

For each point the script copies the project (dvc.yaml, stages, srlm, data/raw, params.yaml
with profiles/judge_learning_curve.yaml and `seed.eft_size` = the point applied) into a
scratch folder and runs the real pipeline there up to `evaluate_judge@m1`, so every number
comes from the same stages as `dvc repro`. It writes a markdown table (with the time each
point took) and a CSV beside it, after every point. Each point trains and evaluates a model: on a
2-core CPU the 640-example point alone takes an hour or more; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import polars as pl
from scratch_project import ROOT, dvc_command, dvc_env, project_copy
from scratch_project import merged_params as profile_params

PROFILE = ROOT / "profiles" / "judge_learning_curve.yaml"
MODES = ("sampled", "expected")


def merged_params(point: int, profile: Path) -> dict:
    """params.yaml with the profile's overrides and this point's EFT size."""
    params = profile_params(profile)
    params["seed"]["eft_size"] = point
    return params


def run_point(point: int, profile: Path, keep: Path | None) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"eft{point}-", dir=keep))
    project = project_copy(folder, merged_params(point, profile))
    started = time.perf_counter()
    for args in (["init", "--no-scm", "-q"], ["repro", "evaluate_judge@m1"]):
        subprocess.run(dvc_command(*args), cwd=project, env=dvc_env(project), check=True)
    seconds = time.perf_counter() - started
    seed = json.loads((project / "metrics" / "seed.json").read_text())
    judge = json.loads((project / "metrics" / "m1" / "judge.json").read_text())
    sft = json.loads((project / "metrics" / "m1" / "sft.json").read_text())
    row = {"eft_examples": seed.get("eft"), "seconds": round(seconds), "sft": sft}
    for mode in MODES:
        row[mode] = judge[mode]
    if keep is None:
        shutil.rmtree(folder)
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| EFT examples | scoring | pairwise acc % [95% CI] | ties % | Spearman [95% CI] | "
        "pairs | time |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]

    def pct(m, key):
        value, ci = m.get(key), m.get(f"{key}_ci95")
        text = "–" if value is None else f"{100 * value:.1f}"
        return text + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")

    def corr(m):
        value, ci = m.get("spearman"), m.get("spearman_ci95")
        text = "–" if value is None else f"{value:.3f}"
        return text + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")

    for row in rows:
        for mode in MODES:
            m = row[mode]
            lines.append(
                f"| {row['eft_examples']} | {mode} | {pct(m, 'pairwise_accuracy')} | "
                f"{pct(m, 'tie_rate')} | {corr(m)} | {m.get('n_pairs')} | "
                f"{row['seconds'] // 60} min {row['seconds'] % 60} s |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: studies/judge_learning_curve.py --points 40 160 640",
    )
    parser.add_argument("--points", type=int, nargs="+", default=[40, 160, 640])
    parser.add_argument("--profile", type=Path, default=PROFILE)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "judge_learning_curve.md")
    parser.add_argument("--keep", type=Path, help="keep each point's project under this folder")
    args = parser.parse_args()
    rows = []
    for point in args.points:
        print(f"== EFT {point}", flush=True)
        rows.append(run_point(point, args.profile, args.keep))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table(rows))  # after every point: a long study keeps what it has
        flat = [
            {
                "eft_examples": r["eft_examples"],
                "scoring": mode,
                "seconds": r["seconds"],
                **{k: r[mode].get(k) for k in ("pairwise_accuracy", "tie_rate", "spearman")},
                "pairwise_accuracy_lo": (r[mode].get("pairwise_accuracy_ci95") or [None])[0],
                "pairwise_accuracy_hi": (r[mode].get("pairwise_accuracy_ci95") or [None, None])[1],
            }
            for r in rows
            for mode in MODES
        ]
        pl.DataFrame(flat).write_csv(args.out.with_suffix(".csv"))
    print(table(rows))


if __name__ == "__main__":
    main()
