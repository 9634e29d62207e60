"""Stage `anchors@<iter>`: M1's judged candidates for the iteration's prompts, the rejected
side of `pairs.mode: anchored` (Temporal Self-Rewarding's anchored rejection).

    python stages/anchors.py --params params.yaml --iteration m3 --anchor-model data/models/m1 \
        --model data/models/m2 --prompts data/m3/prompts --candidates data/m3/candidates \
        --scores data/m3/scores --out data/m3/anchors

In the other pair modes it writes an empty artifact at once (no model is loaded). When the
iteration's own candidates come from the anchor model (m2, whose base is m1), they are the
anchors: nothing is generated twice. Otherwise M1 answers the prompts with the `candidates`
params and the iteration's judge (`--model`) scores them with the `judge` params.
"""

import argparse
from pathlib import Path

import polars as pl

from srlm.core.artifacts import read_artifact, write_artifact
from srlm.core.console import run_stage
from srlm.core.fingerprints import fingerprint
from srlm.core.params import as_dict, load_params
from srlm.core.schemas import artifact_frame
from srlm.engines import make_generator
from srlm.loop.judge import (
    aggregate_scores,
    judge_candidates,
    judge_model,
    sampling_params,
)
from srlm.loop.sampling import candidate_requests, candidate_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--iteration", required=True)
    parser.add_argument("--anchor-model", required=True, help="M1: the model of the anchors")
    parser.add_argument("--model", required=True, help="the iteration's judge (its base)")
    for name in ("prompts", "candidates", "scores", "out"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    prompts = read_artifact(args.prompts, "prompts").sort("prompt_id")
    candidates = read_artifact(args.candidates, "candidates")
    anchored = params.pairs.mode == "anchored"
    judge = judge_model(params.judge, args.model)
    # The iteration's candidates are the anchors when M1 made them and its judge judged them.
    own = Path(args.anchor_model).resolve() == Path(args.model).resolve()
    if not anchored:
        rows = []
    elif own:  # the iteration's candidates are M1's already, judged by M1
        scores = read_artifact(args.scores, "candidate_scores").select("candidate_id",
                                                                       "mean_score")
        rows = candidates.join(scores, on="candidate_id").to_dicts()
    else:
        scope = f"anchors:{args.iteration}"
        requests = candidate_requests(prompts.select("prompt_id", "prompt").iter_rows(),
                                      params.candidates, scope)
        generated = candidate_rows(make_generator(args.anchor_model, params.engine,
                                                  "candidates.max_new_tokens")
                                   .generate(requests), requests, scope, args.anchor_model)
        judged = judge_candidates(
            make_generator(judge, params.engine, "judge.max_new_tokens"),
            [(r["candidate_id"], r["prompt_id"], r["prompt"], r["response"]) for r in generated],
            params.judge, scope)
        means = dict(aggregate_scores(judged, params.judge.scoring)
                     .select("candidate_id", "mean_score").iter_rows())
        rows = [{**r, "mean_score": means.get(r["candidate_id"])} for r in generated]
    anchors = artifact_frame("anchors", rows).sort("candidate_id")
    fp = fingerprint({"anchored": anchored, "candidates": as_dict(params.candidates),
                      "judge": sampling_params(params.judge), "scoring": params.judge.scoring,
                      "engine": as_dict(params.engine), "iteration": args.iteration},
                     inputs=[args.anchor_model, judge, args.prompts, args.candidates,
                             args.scores] if anchored else [args.prompts])
    write_artifact(anchors, args.out, "anchors", fp)
    if anchored:
        print(f"{args.out}: {anchors.height} anchor candidates, "
              f"{anchors.filter(pl.col('mean_score').is_not_null()).height} scored")


if __name__ == "__main__":
    run_stage(main)
