"""Stage `judgments@<iter>`: the iteration's base model judges every candidate K times.

    python stages/judgments.py --params params.yaml --iteration m2 --model data/models/m1 \
        --candidates data/m2/candidates --out data/m2/judgments --scores data/m2/scores \
        --metrics metrics/m2/judgments.json

Uses the paper's judge prompt verbatim (srlm/prompts/judge.txt); each sample keeps the raw
text, the parsed score (null when unparseable) and the expected score with its 0..5
probabilities; a candidate's score is the mean of its parsed samples in the `judge.scoring`
mode (both modes are kept). Resumable like the candidates stage.
"""

import argparse
from functools import cache

import polars as pl

from srlm.core.artifacts import read_artifact, write_artifact, write_metrics
from srlm.core.config import as_dict, load_params
from srlm.core.fingerprints import fingerprint
from srlm.core.requests import user_request
from srlm.core.runtime import run_stage
from srlm.core.shards import ShardWriter, chunks, request_seed, run_sharded
from srlm.engines import make_generator
from srlm.loop.judge import aggregate_scores, judge_samples, render_judge_prompt, score_histogram

SCHEMA = {"prompt_id": pl.Utf8, "candidate_id": pl.Utf8, "sample": pl.Int64,
          "judge_text": pl.Utf8, "score": pl.Float64, "expected_score": pl.Float64,
          "score_probs": pl.List(pl.Float64)}


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
    # The samples do not depend on judge.scoring (both modes are in every row): changing
    # it recomputes the scores from the finished shards without judging again.
    sampling = {k: v for k, v in as_dict(cfg).items() if k != "scoring"}
    fp = fingerprint({"judge": sampling, "engine": as_dict(params.engine),
                      "iteration": args.iteration}, inputs=[args.model, args.candidates])
    writer = ShardWriter(args.out, "judgments", fp)
    # Loaded on first use: a rerun whose shards are all done never loads the model.
    generator = cache(lambda: make_generator(args.model, params.engine))

    def make_frame(rows):
        requests = [
            user_request(cid, render_judge_prompt(prompt, response), n=cfg.samples,
                         temperature=cfg.temperature, top_p=cfg.top_p,
                         max_new_tokens=cfg.max_new_tokens,
                         seed=request_seed(cfg.random_seed, args.iteration, cid))
            for cid, _, prompt, response in rows
        ]
        prompt_of = {cid: pid for cid, pid, _, _ in rows}
        return pl.DataFrame(
            [{"prompt_id": prompt_of[j["request_id"]], "candidate_id": j["request_id"],
              **{k: j[k] for k in SCHEMA if k in j}}
             for j in judge_samples(generator(), requests)],
            schema=SCHEMA,
        )

    rows = list(candidates.select("candidate_id", "prompt_id", "prompt", "response").iter_rows())
    judgments = run_sharded(writer, chunks(rows, cfg.shard_size), make_frame, "judgments")
    scores = aggregate_scores(judgments, cfg.scoring)
    write_artifact(scores, args.scores, "candidate_scores",
                   fingerprint({"scoring": cfg.scoring}, inputs=[args.out]))
    parsed = judgments["score"].is_not_null().sum()
    write_metrics(args.metrics, {
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
