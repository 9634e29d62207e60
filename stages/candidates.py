"""Stage `candidates@<iter>`: N sampled responses per prompt from the iteration's base model.

    python stages/candidates.py --params params.yaml --iteration m2 --model data/models/m1 \
        --prompts data/m2/prompts --out data/m2/candidates --metrics metrics/m2/candidates.json

Resumable: shards of `candidates.shard_size` prompts are written to `<out>.partial/` as they
finish, built by `scale.workers` engine replicas (the same artifact for any number); rerun
after a crash and finished shards are kept (a params change discards them). The finished
`<out>` is replaced only once the new one is complete and valid: a failed run (a broken model
included) leaves it as it was. A second run on the same `--out` fails at once.
"""

import argparse

from srlm.core.artifacts import read_artifact, write_metrics
from srlm.core.console import run_stage
from srlm.core.fingerprints import fingerprint
from srlm.core.params import as_dict, load_params
from srlm.engines import EngineRecipe
from srlm.loop.sampling import CandidateTask
from srlm.runtime.shards import ShardWriter, chunks, run_sharded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--iteration", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompts", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = params.candidates
    prompts = read_artifact(args.prompts, "prompts").sort("prompt_id")
    fp = fingerprint({"candidates": as_dict(cfg), "engine": as_dict(params.engine),
                      "iteration": args.iteration}, inputs=[args.model, args.prompts])
    # Inputs are read and checked above; the writer takes the output's lock (before any model
    # loads, so a concurrent run fails fast) and never touches the finished `args.out`.
    writer = ShardWriter(args.out, "candidates", fp, code=__file__)
    task = CandidateTask(EngineRecipe(args.model, params.engine, "candidates.max_new_tokens"),
                         cfg, scope=args.iteration)
    rows = list(prompts.select("prompt_id", "prompt").iter_rows())
    frame = run_sharded(writer, chunks(rows, cfg.shard_size), task, "candidates", params)
    write_metrics(args.metrics, {
        "prompts": prompts.height, "candidates": frame.height,
        "per_prompt": cfg.n,
        "empty_responses": int((frame["response"].str.len_chars() == 0).sum()),
        "hit_max_new_tokens": int((frame["finish_reason"] == "length").sum()),
        "mean_tokens": round(frame["n_tokens"].mean(), 2) if frame.height else None,
        "mean_chars": round(frame["response"].str.len_chars().mean(), 1) if frame.height else None,
    })


if __name__ == "__main__":
    run_stage(main)
