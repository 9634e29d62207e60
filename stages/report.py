"""Stage `report`: one markdown table across models, the CSVs behind `dvc plots` and the same
charts as PNG images embedded in the table's file, and the paired IFEval differences between
models (a DVC metrics file).

    python stages/report.py --params params.yaml --metrics-dir metrics \
        --out reports/summary.md --plots reports/plots --paired reports/ifeval_paired.json

The same table prints with `srlm report`.
"""

import os
from pathlib import Path

from srlm.core.artifacts import atomic_directory
from srlm.core.console import run_stage
from srlm.core.stage import StageSpec, file, folder
from srlm.evaluation.charts import render_charts
from srlm.evaluation.report import collect, comparisons, markdown, plot_frames

SPEC = StageSpec(
    name="report",
    doc=__doc__,
    inputs={"metrics_dir": folder("every stage's metrics")},
    params=("evaluation.models", "iterations"),
    outputs={"out": file("the markdown table"), "plots": folder("folder of CSVs for dvc plots")},
    metrics=("paired",),  # JSON: IFEval differences of each model vs its base and vs m0
)


def main() -> None:
    stage = SPEC.start()
    models, metrics_dir = list(stage.params.evaluation.models), stage.path("metrics_dir")
    rows = collect(metrics_dir, models)
    paired = comparisons(metrics_dir, models, stage.params.iterations)
    stage.write_metrics(paired, "paired")
    out = Path(stage.path("out"))
    out.parent.mkdir(parents=True, exist_ok=True)
    frames = plot_frames(rows)
    with atomic_directory(stage.path("plots")) as plots:
        for name, frame in frames.items():
            frame.write_csv(plots / f"{name}.csv")
        charts = render_charts(frames, plots)
    relative = Path(os.path.relpath(stage.path("plots"), out.parent))
    out.write_text(
        markdown(
            rows, {title: (relative / name).as_posix() for title, name in charts.items()}, paired
        )
    )
    print(out.read_text())


if __name__ == "__main__":
    run_stage(main)
