"""Stage `report`: one markdown table across models, the CSVs behind `dvc plots` and the same
charts as PNG images embedded in the table's file.

    python stages/report.py --params params.yaml --metrics-dir metrics \
        --out reports/summary.md --plots reports/plots

The same table prints with `srlm report`.
"""

import argparse
import os
from pathlib import Path

from srlm.core.artifacts import atomic_directory
from srlm.core.config import load_params
from srlm.core.runtime import run_stage
from srlm.evaluation.charts import render_charts
from srlm.evaluation.report import collect, markdown, plot_frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--metrics-dir", required=True)
    parser.add_argument("--out", required=True, help="the markdown table")
    parser.add_argument("--plots", required=True, help="folder of CSVs for dvc plots")
    args = parser.parse_args()
    rows = collect(args.metrics_dir, list(load_params(args.params).evaluation.models))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames = plot_frames(rows)
    with atomic_directory(args.plots) as folder:
        for name, frame in frames.items():
            frame.write_csv(folder / f"{name}.csv")
        charts = render_charts(frames, folder)
    relative = Path(os.path.relpath(args.plots, out.parent))
    out.write_text(markdown(rows, {title: (relative / name).as_posix()
                                   for title, name in charts.items()}))
    print(out.read_text())


if __name__ == "__main__":
    run_stage(main)
