"""Stages `evaluate_h2h@<iter>` and `evaluate_reference@<model>`: the fixed evaluator
compares a model's answers with an opponent's, every pair in both orders.

    # head to head: the iteration's model against its base
    python stages/compare.py --params params.yaml --prompts data/eval/prompts \
        --answers data/eval/m2/answers --name m2 \
        --opponent-answers data/eval/m1/answers --opponent-name m1 \
        --out data/eval/m2/h2h --metrics metrics/m2/h2h.json
    # reference win rate: against the reference outputs carried by the prompts
    python stages/compare.py ... --answers data/eval/m2/answers --name m2 --reference ...

An inconsistent verdict (the evaluator prefers whichever answer comes first) is a tie. The
evaluator is `evaluator.model` or `evaluator.endpoint` from params, the same for every
comparison of a run; the metrics file records which (path and content hash, or URL).
"""

import polars as pl

from srlm.core.console import run_stage
from srlm.core.errors import SrlmError
from srlm.core.stage import StageSpec, artifact, switch, text
from srlm.evaluation.comparisons import (
    OPTIONS,
    VERDICT_PREFIX,
    comparison_prompts,
    head_to_head_metrics,
    verdict_frame,
)
from srlm.evaluation.evaluator import evaluator_identity, make_evaluator
from srlm.evaluation.metrics import judge_accuracy_differences
from srlm.runtime.requests import user_request

SPEC = StageSpec(
    name="compare",
    doc=__doc__,
    options={
        "name": text("the answering model's name, e.g. m2"),
        "reference": switch("compare with the prompts' reference outputs"),
        "opponent_name": text("the other model's name (with --opponent-answers)", required=False),
    },
    inputs={
        "prompts": artifact("eval_prompts", "the eval_prompts artifact"),
        "answers": artifact("answers"),
        "opponent_answers": artifact("answers", "another model's answers artifact", required=False),
        # read for the metrics only: not part of the verdicts' fingerprint
        "judge_outputs": artifact(
            "judge_outputs",
            "the model's evaluate_judge artifact: "
            "with --opponent-judge-outputs, the paired difference of "
            "judge accuracy",
            required=False,
            hashed=False,
        ),
        "opponent_judge_outputs": artifact(
            "judge_outputs", "the opponent's evaluate_judge artifact", required=False, hashed=False
        ),
    },
    one_of=("opponent_answers", "reference"),
    params=("evaluator", "engine"),
    outputs={"out": artifact("verdicts")},
    metrics=("metrics",),
)


def main() -> None:
    stage = SPEC.start()
    params, args = stage.params, stage.args
    prompts = stage.read("prompts")
    answers = stage.read("answers").select("prompt_id", answer="response")
    rows = prompts.join(answers, on="prompt_id", how="inner", maintain_order="left")
    if args.reference:
        rows = rows.filter(pl.col("reference").is_not_null()).with_columns(
            other=pl.col("reference")
        )
        opponent_name = "reference:" + ",".join(sorted(set(rows["reference_model"].to_list())))
    else:
        other = stage.read("opponent_answers").select("prompt_id", other="response")
        rows = rows.join(other, on="prompt_id", how="inner", maintain_order="left")
        opponent_name = args.opponent_name or args.opponent_answers
    if rows.is_empty():
        raise SrlmError(f"{args.answers}: no prompt has both answers to compare")
    evaluator = make_evaluator(params.evaluator, params.engine)
    requests = [user_request(f"{i}", text) for i, text in enumerate(comparison_prompts(rows))]
    probabilities = evaluator.option_probabilities(
        requests, [VERDICT_PREFIX] * len(requests), OPTIONS
    )
    verdicts = verdict_frame(rows, probabilities, args.name, opponent_name)
    identity = evaluator_identity(params.evaluator)
    stage.write("out", verdicts, stage.fingerprint(evaluator=identity))
    judge = {}
    if args.judge_outputs and args.opponent_judge_outputs:
        judge = {
            "judge": judge_accuracy_differences(
                stage.read("judge_outputs"), stage.read("opponent_judge_outputs")
            )
        }
    stage.write_metrics(
        {
            "model": args.name,
            "opponent": opponent_name,
            **identity,
            **head_to_head_metrics(verdicts),
            **judge,
            "mean_chars": round(rows["answer"].str.len_chars().mean(), 1),
            "opponent_mean_chars": round(rows["other"].str.len_chars().mean(), 1),
        }
    )


if __name__ == "__main__":
    run_stage(main)
