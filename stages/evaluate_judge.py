"""Stage `evaluate_judge@<model>`: the model as a judge, against human rankings.

    python stages/evaluate_judge.py --params params.yaml --model data/models/m2 \
        --eft-eval data/seed/eft_eval --out data/eval/m2/judge --metrics metrics/m2/judge.json

Every EFT-eval reply is judged with the paper's prompt `judge.samples` times with the loop's
sampling params; a reply's score is the mean of its parsed samples, as in the loop. The
metrics are the paper's reward-modelling numbers (pairwise accuracy, tie rate, 5-best, exact
match, Spearman, Kendall tau), for both scoring modes (`sampled`, `expected`; see
srlm/loop/judge.py), plus parse rate, score histogram and distance to the targets.
"""

import argparse

from srlm.core.artifacts import read_artifact, write_artifact, write_metrics
from srlm.core.console import run_stage
from srlm.core.errors import SrlmError
from srlm.core.fingerprints import fingerprint
from srlm.core.params import as_dict, load_params
from srlm.engines import EngineRecipe
from srlm.evaluation.metrics import (
    judge_format_metrics,
    judge_intervals,
    reply_scores,
    reward_model_metrics,
)
from srlm.loop.judge import SCORING_MODES, JudgeSamplesTask, sampling_params
from srlm.runtime.shards import map_shards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--model", required=True, help="the judge being evaluated")
    parser.add_argument("--eft-eval", required=True)
    parser.add_argument("--out", required=True, help="one row per judge sample")
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = params.judge
    examples = read_artifact(args.eft_eval, "seed_eft")
    if examples.is_empty():
        raise SrlmError(f"evaluate_judge: {args.eft_eval} has no replies to judge (seed."
                        "eft_eval_size and the held-out sources decide its rows)")
    task = JudgeSamplesTask(EngineRecipe(args.model, params.engine, "judge.max_new_tokens"),
                            cfg, scope="evaluate_judge", id_column="example_id")
    samples = map_shards(task, list(examples.select("example_id", "judge_input").iter_rows()),
                         params.evaluation.shard_size, params, "judge")
    outputs = examples.select("example_id", "group_id", "human_rank", "target_score").join(
        samples.drop("finish_reason"), on="example_id", how="inner", maintain_order="right")
    fp = fingerprint({"judge": sampling_params(cfg), "engine": as_dict(params.engine),
                      "shard_size": params.evaluation.shard_size},
                     inputs=[args.model, args.eft_eval])
    write_artifact(outputs, args.out, "judge_outputs", fp)
    write_metrics(args.metrics, {
        "model": args.model,
        "samples_per_reply": cfg.samples,
        "scoring": cfg.scoring,
        **{mode: {**reward_model_metrics(reply_scores(outputs, mode)),
                  **judge_intervals(reply_scores(outputs, mode))}
           for mode in SCORING_MODES},
        "samples": judge_format_metrics(outputs),
        "hit_max_new_tokens": int((samples["finish_reason"] == "length").sum()),
    })


if __name__ == "__main__":
    run_stage(main)
