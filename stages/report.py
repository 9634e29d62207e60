"""Stage `report`: one markdown table across models, the CSVs behind `dvc plots` and the same
charts as PNG images embedded in the table's file, and the paired IFEval differences between
models (a DVC metrics file).

    python stages/report.py --params params.yaml --metrics-dir metrics \
        --out reports/summary.md --plots reports/plots --paired reports/ifeval_paired.json

The same table prints with `srlm report`.
"""

import argparse
import os
from pathlib import Path

from srlm.core.artifacts import atomic_directory, write_metrics
from srlm.core.console import run_stage
from srlm.core.params import load_params
from srlm.evaluation.charts import render_charts
from srlm.evaluation.report import collect, comparisons, markdown, plot_frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--metrics-dir", required=True)
    parser.add_argument("--out", required=True, help="the markdown table")
    parser.add_argument("--plots", required=True, help="folder of CSVs for dvc plots")
    parser.add_argument("--paired", required=True,
                        help="JSON: IFEval differences of each model vs its base and vs m0")
    args = parser.parse_args()
    params = load_params(args.params)
    models = list(params.evaluation.models)
    rows = collect(args.metrics_dir, models)
    paired = comparisons(args.metrics_dir, models, params.iterations)
    write_metrics(args.paired, paired)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames = plot_frames(rows)
    with atomic_directory(args.plots) as folder:
        for name, frame in frames.items():
            frame.write_csv(folder / f"{name}.csv")
        charts = render_charts(frames, folder)
    relative = Path(os.path.relpath(args.plots, out.parent))
    out.write_text(markdown(rows, {title: (relative / name).as_posix()
                                   for title, name in charts.items()}, paired))
    print(out.read_text())


if __name__ == "__main__":
    run_stage(main)
