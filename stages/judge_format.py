"""Stage `judge_format`: does a model write parseable judgments? Greedy, on EFT-eval prompts.

    python stages/judge_format.py --params params.yaml --model data/models/m1 \
        --eft-eval data/seed/eft_eval --out data/eval/m1/judge_format \
        --metrics metrics/m1/judge_format.json
"""

import argparse
import logging

import polars as pl

from srlm.config import as_dict, load_params
from srlm.engines import make_generator
from srlm.engines.base import user_request
from srlm.evaluation import judge_format_metrics
from srlm.io import fingerprint, read_artifact, write_artifact, write_metrics
from srlm.judge import parse_score
from srlm.runtime import run_stage

log = logging.getLogger("stages.judge_format")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--model", required=True)
    parser.add_argument("--eft-eval", required=True)
    parser.add_argument("--out", required=True, help="per-example judge outputs artifact")
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = params.judge_format
    examples = read_artifact(args.eft_eval, "seed_eft").head(cfg.n_prompts)
    requests = [
        user_request(row["example_id"], row["judge_input"], max_new_tokens=cfg.max_new_tokens)
        for row in examples.iter_rows(named=True)
    ]
    generator = make_generator(args.model, params.engine)
    completions = generator.generate(requests)
    outputs = examples.select("example_id", "group_id", "human_rank", "target_score").with_columns(
        sample=pl.lit(0, dtype=pl.Int64),
        judge_text=pl.Series([c.text for c in completions], dtype=pl.Utf8),
        score=pl.Series([parse_score(c.text) for c in completions], dtype=pl.Float64),
    )
    fp = fingerprint({"judge_format": as_dict(cfg), "engine": as_dict(params.engine)},
                     inputs=[args.model, args.eft_eval])
    write_artifact(outputs, args.out, "judge_outputs", fp)
    metrics = judge_format_metrics(outputs)
    metrics["hit_max_new_tokens"] = sum(c.finish_reason == "length" for c in completions)
    metrics["model"] = args.model
    write_metrics(args.metrics, metrics)
    log.info("%s parsed %d of %d judge prompts (%.0f%%)", args.model, metrics["parsed"],
             metrics["n"], 100 * (metrics["parse_rate"] or 0))


if __name__ == "__main__":
    run_stage(main)
