"""Stage `view`: the run's data as static HTML pages, readable offline with no network: each
iteration's prompts with their candidates, every judge sample (text, parsed score, expected
score, score probabilities), the pair DPO trained on with a word diff, the dropped generations,
filters and the loop monitors linked to their examples; each model's evaluation answers
(IFEval verdicts, the judge against human ranks, comparisons in both orders); every model's
answer to a prompt side by side; and `srlm diff` between iterations (srlm.tools.view).

    python stages/view.py --params params.yaml --data data --metrics-dir metrics \
        --out reports/view

It shows the iterations of `iterations` and the models of `evaluation.models`. The same pages
for any data folder: `srlm view`.
"""

from srlm.core.console import run_stage
from srlm.core.stage import StageSpec, folder
from srlm.tools.view import write_view

SPEC = StageSpec(
    name="view",
    doc=__doc__,
    inputs={
        "data": folder("the pipeline's data folder (data/<iteration>/..., data/eval/...)"),
        "metrics_dir": folder("every stage's metrics (the loop monitors)"),
    },
    params=("iterations", "evaluation.models"),
    outputs={"out": folder("the pages: index.html, <iteration>/, models/<model>/, assets/")},
)


def main() -> None:
    stage = SPEC.start()
    write_view(
        stage.path("data"),
        list(stage.params.iterations),
        stage.path("out"),
        models=list(stage.params.evaluation.models),
        metrics_dir=stage.path("metrics_dir"),
    )


if __name__ == "__main__":
    run_stage(main)
