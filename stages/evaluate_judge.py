"""Stage `evaluate_judge@<model>`: the model as a judge, against human rankings.

    python stages/evaluate_judge.py --params params.yaml --model data/models/m2 \
        --eft-eval data/seed/eft_eval --out data/eval/m2/judge --metrics metrics/m2/judge.json

Every EFT-eval reply is judged with the paper's prompt `judge.samples` times with the loop's
sampling params; a reply's score is the mean of its parsed samples, as in the loop. The
metrics are the paper's reward-modelling numbers (pairwise accuracy, tie rate, 5-best, exact
match, Spearman, Kendall tau), for both scoring modes (`sampled`, `expected`; see
srlm/loop/judge.py), plus parse rate, score histogram and distance to the targets.
"""

from srlm.core.console import run_stage
from srlm.core.errors import SrlmError
from srlm.core.stage import StageSpec, artifact, model
from srlm.engines import EngineRecipe
from srlm.evaluation.metrics import judge_evaluation_metrics
from srlm.loop.judge import UNHASHED, JudgeSamplesTask
from srlm.runtime.shards import map_shards

SPEC = StageSpec(
    name="evaluate_judge",
    doc=__doc__,
    inputs={"model": model("the judge being evaluated"), "eft_eval": artifact("seed_eft")},
    params=("judge", "engine", "evaluation.shard_size"),
    unhashed=UNHASHED,
    outputs={"out": artifact("judge_outputs", "one row per judge sample")},
    metrics=("metrics",),
)


def main() -> None:
    stage = SPEC.start()
    params, cfg = stage.params, stage.params.judge
    examples = stage.read("eft_eval")
    if examples.is_empty():
        raise SrlmError(
            f"evaluate_judge: {stage.path('eft_eval')} has no replies to judge (seed."
            "eft_eval_size and the held-out sources decide its rows)"
        )
    task = JudgeSamplesTask(
        EngineRecipe(stage.path("model"), params.engine, "judge.max_new_tokens"),
        cfg,
        scope="evaluate_judge",
        id_column="example_id",
    )
    samples = map_shards(
        task,
        list(examples.select("example_id", "judge_input").iter_rows()),
        params.evaluation.shard_size,
        params,
        "judge",
    )
    outputs = examples.select("example_id", "group_id", "human_rank", "target_score").join(
        samples.drop("finish_reason"), on="example_id", how="inner", maintain_order="right"
    )
    stage.write("out", outputs, stage.fingerprint())
    stage.write_metrics(
        {"model": stage.path("model"), **judge_evaluation_metrics(outputs, samples, cfg)}
    )


if __name__ == "__main__":
    run_stage(main)
