"""Stage `judgments@<iter>`: the iteration's base model judges every candidate K times.

    python stages/judgments.py --params params.yaml --iteration m2 --model data/models/m1 \
        --candidates data/m2/candidates --out data/m2/judgments --scores data/m2/scores \
        --metrics metrics/m2/judgments.json

Uses the paper's judge prompt verbatim (srlm/prompts/judge.txt); each sample keeps the raw
text, the parsed score (null when unparseable) and the expected score with its 0..5
probabilities; a candidate's score is the mean of its parsed samples in the `judge.scoring`
mode (both modes are kept). Resumable like the candidates stage, and like it never touches
the finished `--out` unless the new one is complete and valid.
"""

import argparse

from srlm.core.artifacts import read_artifact, write_artifact, write_metrics
from srlm.core.console import run_stage
from srlm.core.fingerprints import fingerprint
from srlm.core.params import as_dict, load_params
from srlm.engines import EngineRecipe, make_generator
from srlm.evaluation.monitors import consistency_sample, kendall_tau_b
from srlm.loop.judge import (
    JudgeTask,
    aggregate_scores,
    judge_candidates,
    judge_model,
    sampling_params,
)
from srlm.loop.judge_prompt import score_histogram
from srlm.runtime.shards import ShardWriter, chunks, run_sharded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--iteration", required=True)
    parser.add_argument("--model", required=True, help="the judge: the iteration's base model")
    parser.add_argument("--candidates", required=True)
    parser.add_argument("--out", required=True, help="one row per judge sample")
    parser.add_argument("--scores", required=True, help="one row per candidate (mean score)")
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = params.judge
    candidates = read_artifact(args.candidates, "candidates").sort("candidate_id")
    # judge.scoring is left out: it only averages finished samples, never re-judges.
    judge = judge_model(cfg, args.model)
    fp = fingerprint({"judge": sampling_params(cfg), "engine": as_dict(params.engine),
                      "iteration": args.iteration}, inputs=[judge, args.candidates])
    # Inputs are read and checked above; the writer locks the output before any model loads.
    writer = ShardWriter(args.out, "judgments", fp, code=__file__)
    task = JudgeTask(EngineRecipe(judge, params.engine, "judge.max_new_tokens"), cfg,
                     scope=args.iteration)
    rows = list(candidates.select("candidate_id", "prompt_id", "prompt", "response").iter_rows())
    judgments = run_sharded(writer, chunks(rows, cfg.shard_size), task, "judgments", params)
    scores = aggregate_scores(judgments, cfg.scoring)
    write_artifact(scores, args.scores, "candidate_scores",
                   fingerprint({"scoring": cfg.scoring}, inputs=[args.out]))
    parsed = judgments["score"].is_not_null().sum()
    agreement = {}
    if judge != args.model:  # an external judge: how far would the model's own judge agree?
        picked = consistency_sample(scores["candidate_id"].to_list(), cfg.agreement_sample,
                                    cfg.random_seed)
        picked = set(picked)
        own = aggregate_scores(judge_candidates(
            make_generator(args.model, params.engine, "judge.max_new_tokens"),
            [r for r in rows if r[0] in picked], cfg, scope=f"self:{args.iteration}"),
            cfg.scoring).select("candidate_id", own="mean_score")
        both = scores.select("candidate_id", "mean_score").join(own, on="candidate_id")
        agreement = {"judge_model": judge, "self_judge_agreement": {
            "kendall_tau": kendall_tau_b(both["mean_score"].to_list(), both["own"].to_list()),
            "mean_abs_diff": round((both["mean_score"] - both["own"]).abs().mean(), 4)
            if both.height else None,
            "n": both.height}}
    write_metrics(args.metrics, {
        **agreement,
        "scoring": cfg.scoring,
        "candidates": scores.height, "samples": judgments.height,
        "parse_rate": round(parsed / judgments.height, 4) if judgments.height else None,
        "candidates_unscored": int(scores["mean_score"].is_null().sum()),
        "score_histogram": score_histogram(judgments["score"]),
        "expected_score_histogram": score_histogram(judgments["expected_score"]),
        "mean_score": round(judgments["score"].mean(), 4) if parsed else None,
        "mean_expected_score": round(judgments["expected_score"].mean(), 4) if parsed else None,
    })


if __name__ == "__main__":
    run_stage(main)
