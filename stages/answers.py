"""Stage `answers@<model>`: the model's greedy answer to every evaluation prompt.

    python stages/answers.py --params params.yaml --model data/models/m2 \
        --prompts data/eval/prompts --out data/eval/m2/answers --metrics metrics/m2/answers.json

The answers feed the head-to-head and reference comparisons; the metrics hold their lengths
(the paper's answers grew longer with each iteration).
"""

from srlm.core.console import run_stage
from srlm.core.errors import SrlmError
from srlm.core.stage import StageSpec, artifact, model
from srlm.engines import EngineRecipe
from srlm.evaluation.answers import AnswerTask
from srlm.evaluation.metrics import length_metrics
from srlm.runtime.shards import map_shards

SPEC = StageSpec(
    name="answers",
    doc=__doc__,
    inputs={"model": model(), "prompts": artifact("eval_prompts")},
    params=("evaluation.max_new_tokens", "evaluation.shard_size", "engine"),
    outputs={"out": artifact("answers")},
    metrics=("metrics",),
)


def main() -> None:
    stage = SPEC.start()
    params, cfg = stage.params, stage.params.evaluation
    prompts = stage.read("prompts")
    if prompts.is_empty():
        raise SrlmError(
            f"answers: {stage.path('prompts')} has no prompts to answer (rebuild it "
            "with `dvc repro eval_prompts`)"
        )
    task = AnswerTask(
        EngineRecipe(stage.path("model"), params.engine, "evaluation.max_new_tokens"),
        cfg.max_new_tokens,
    )
    rows = list(prompts.select("prompt_id", "source", "prompt").iter_rows())
    answers = map_shards(task, rows, cfg.shard_size, params, "answers")
    stage.write("out", answers, stage.fingerprint())
    stage.write_metrics({"model": stage.path("model"), **length_metrics(answers)})


if __name__ == "__main__":
    run_stage(main)
