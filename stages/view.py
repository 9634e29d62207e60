"""Stage `view@<iteration>`: the iteration's data as static HTML pages, readable offline with
no network: each prompt with its candidates, every judge sample (text, parsed score, expected
score, score probabilities), the pair DPO trained on with a word diff, and filters
(srlm.tools.view).

    python stages/view.py --params params.yaml --iteration m2 --prompts data/m2/prompts \
        --candidates data/m2/candidates --judgments data/m2/judgments \
        --scores data/m2/scores --pairs data/m2/pairs --out reports/view/m2

The same pages for any artifacts, several iterations at once: `srlm view`.
"""

from srlm.core.console import run_stage
from srlm.core.stage import StageSpec, artifact, folder, text
from srlm.tools.view import write_pages

SPEC = StageSpec(
    name="view",
    doc=__doc__,
    options={"iteration": text("the iteration's name (m2, m3, ...)")},
    inputs={
        "prompts": artifact("prompts"),
        "candidates": artifact("candidates"),
        "judgments": artifact("judgments"),
        "scores": artifact("candidate_scores"),
        "pairs": artifact("pairs"),
    },
    params=(),
    outputs={"out": folder("the pages: index.html, <iteration>/page-*.html, assets/")},
)


def main() -> None:
    stage = SPEC.start()
    frames = {name: stage.read(name) for name in SPEC.inputs}
    write_pages({stage.args.iteration: frames}, stage.path("out"))


if __name__ == "__main__":
    run_stage(main)
