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

import argparse

import polars as pl

from srlm.core.artifacts import read_artifact, write_artifact, write_metrics
from srlm.core.console import run_stage
from srlm.core.errors import SrlmError
from srlm.core.fingerprints import fingerprint
from srlm.core.params import as_dict, load_params
from srlm.evaluation.comparisons import (
    OPTIONS,
    VERDICT_PREFIX,
    comparison_prompts,
    head_to_head_metrics,
    verdict_frame,
)
from srlm.evaluation.evaluator import evaluator_identity, make_evaluator
from srlm.evaluation.metrics import paired_accuracy_difference, reply_scores
from srlm.loop.judge import SCORING_MODES
from srlm.runtime.requests import user_request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prompts", required=True, help="the eval_prompts artifact")
    parser.add_argument("--answers", required=True)
    parser.add_argument("--name", required=True, help="the answering model's name, e.g. m2")
    opponent = parser.add_mutually_exclusive_group(required=True)
    opponent.add_argument("--opponent-answers", help="another model's answers artifact")
    opponent.add_argument("--reference", action="store_true",
                          help="compare with the prompts' reference outputs")
    parser.add_argument("--opponent-name", help="the other model's name (with --opponent-answers)")
    parser.add_argument("--judge-outputs", help="the model's evaluate_judge artifact: with "
                        "--opponent-judge-outputs, the paired difference of judge accuracy")
    parser.add_argument("--opponent-judge-outputs", help="the opponent's evaluate_judge artifact")
    parser.add_argument("--out", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    prompts = read_artifact(args.prompts, "eval_prompts")
    answers = read_artifact(args.answers, "answers").select("prompt_id", answer="response")
    rows = prompts.join(answers, on="prompt_id", how="inner", maintain_order="left")
    if args.reference:
        rows = rows.filter(pl.col("reference").is_not_null()).with_columns(
            other=pl.col("reference"))
        opponent_name = "reference:" + ",".join(sorted(set(rows["reference_model"].to_list())))
        inputs = [args.prompts, args.answers]
    else:
        other = read_artifact(args.opponent_answers, "answers").select("prompt_id",
                                                                       other="response")
        rows = rows.join(other, on="prompt_id", how="inner", maintain_order="left")
        opponent_name = args.opponent_name or args.opponent_answers
        inputs = [args.prompts, args.answers, args.opponent_answers]
    if rows.is_empty():
        raise SrlmError(f"{args.answers}: no prompt has both answers to compare")
    evaluator = make_evaluator(params.evaluator, params.engine)
    requests = [user_request(f"{i}", text) for i, text in enumerate(comparison_prompts(rows))]
    probabilities = evaluator.option_probabilities(requests, [VERDICT_PREFIX] * len(requests),
                                                   OPTIONS)
    verdicts = verdict_frame(rows, probabilities, args.name, opponent_name)
    identity = evaluator_identity(params.evaluator)
    fp = fingerprint({"evaluator": as_dict(params.evaluator), "engine": as_dict(params.engine)},
                     inputs=inputs, evaluator=identity)
    write_artifact(verdicts, args.out, "verdicts", fp)
    judge = {}
    if args.judge_outputs and args.opponent_judge_outputs:
        mine, theirs = (read_artifact(path, "judge_outputs")
                        for path in (args.judge_outputs, args.opponent_judge_outputs))
        judge = {"judge": {mode: paired_accuracy_difference(reply_scores(mine, mode),
                                                            reply_scores(theirs, mode))
                           for mode in SCORING_MODES}}
    write_metrics(args.metrics, {
        "model": args.name, "opponent": opponent_name, **identity,
        **head_to_head_metrics(verdicts), **judge,
        "mean_chars": round(rows["answer"].str.len_chars().mean(), 1),
        "opponent_mean_chars": round(rows["other"].str.len_chars().mean(), 1),
    })


if __name__ == "__main__":
    run_stage(main)
