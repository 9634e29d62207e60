"""Stage `monitors@<iter>`: the failure modes of the loop, measured for one iteration.

    python stages/monitors.py --params params.yaml --iteration m2 --model data/models/m2 \
        --candidates data/m2/candidates --judgments data/m2/judgments --scores data/m2/scores \
        --pairs data/m2/pairs --prompts data/m2/prompts --answers data/eval/m2/answers \
        --m1-answers data/eval/m1/answers --out data/m2/rejudged --metrics metrics/m2/monitors.json

The model this iteration trained re-judges a seeded sample of the iteration's candidates
(`monitors.consistency_sample`, with the loop's judge params), written as `rejudged`; the
metrics are described in srlm/evaluation/monitors.py.
"""

import argparse

from srlm.core.artifacts import read_artifact, write_artifact, write_metrics
from srlm.core.console import run_stage
from srlm.core.fingerprints import fingerprint
from srlm.core.params import as_dict, load_params
from srlm.engines import make_generator
from srlm.evaluation.monitors import consistency_sample, loop_monitors
from srlm.loop.judge import (
    aggregate_scores,
    judge_candidates,
    sampling_params,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--iteration", required=True)
    parser.add_argument("--model", required=True, help="the model this iteration trained")
    for name in ("candidates", "judgments", "scores", "pairs", "prompts", "answers",
                 "m1-answers", "out", "metrics"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    cfg, sample_size = params.judge, params.monitors.consistency_sample
    candidates = read_artifact(args.candidates, "candidates")
    scores = read_artifact(args.scores, "candidate_scores")
    picked = consistency_sample(candidates["candidate_id"].to_list(), sample_size,
                                params.monitors.random_seed)
    rows = candidates.filter(candidates["candidate_id"].is_in(picked)).sort("candidate_id")
    generator = make_generator(args.model, params.engine, "judge.max_new_tokens")
    rejudged = judge_candidates(
        generator, rows.select("candidate_id", "prompt_id", "prompt", "response").iter_rows(),
        cfg, scope=f"monitors:{args.iteration}")
    fp = fingerprint({"judge": sampling_params(cfg), "engine": as_dict(params.engine),
                      "monitors": as_dict(params.monitors), "iteration": args.iteration},
                     inputs=[args.model, args.candidates])
    write_artifact(rejudged, args.out, "judgments", fp)
    after = aggregate_scores(rejudged, cfg.scoring).select("candidate_id", score="mean_score")
    before = scores.filter(scores["candidate_id"].is_in(picked)).select(
        "candidate_id", score="mean_score")
    write_metrics(args.metrics, {
        "iteration": args.iteration, "scoring": cfg.scoring,
        **loop_monitors(read_artifact(args.judgments, "judgments"),
                        read_artifact(args.pairs, "pairs"),
                        read_artifact(args.prompts, "prompts").height,
                        read_artifact(args.answers, "answers"),
                        read_artifact(args.m1_answers, "answers"), before, after),
    })


if __name__ == "__main__":
    run_stage(main)
