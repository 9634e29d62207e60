"""Stage `eval_prompts`: the held-out prompts every model answers for evaluation.

    python stages/eval_prompts.py --params params.yaml \
        --alpaca-eval ../shared/data/alpaca_eval/gpt4_1106_preview.model_outputs.json \
        --mt-bench ../shared/data/mt_bench/question.jsonl \
        [--prompts srlm/seed_data/eval.trees.jsonl] \
        --out data/eval/prompts --metrics metrics/eval_prompts.json

AlpacaEval rows carry a reference output (the reference win rate compares against it);
MT-Bench contributes first turns; `--prompts` takes any prompt file the seed stage reads
(e.g. the embedded held-out seed when `../shared/data` is not there). Sizes are params.
"""

import argparse

from srlm.core.artifacts import write_artifact, write_metrics
from srlm.core.config import load_params
from srlm.core.fingerprints import fingerprint
from srlm.core.runtime import run_stage
from srlm.evaluation.prompts import read_eval_prompts, select_eval_prompts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--alpaca-eval", action="append", default=[],
                        help="AlpacaEval outputs JSON (instruction, output, generator, dataset)")
    parser.add_argument("--mt-bench", action="append", default=[], help="MT-Bench questions")
    parser.add_argument("--prompts", action="append", default=[], help="any other prompt file")
    parser.add_argument("--out", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    cfg = load_params(args.params).evaluation
    specs = [*args.alpaca_eval, *args.mt_bench, *args.prompts]
    if not specs:
        raise SystemExit("eval_prompts: give at least one of --alpaca-eval, --mt-bench, --prompts")
    frames = [read_eval_prompts(spec) for spec in specs]
    limits = {"alpaca_eval": cfg.alpaca_eval_limit, "mt_bench": cfg.mt_bench_limit,
              "prompts": cfg.prompts_limit}
    prompts = select_eval_prompts(frames, limits, cfg.alpaca_eval_datasets, cfg.seed)
    if prompts.is_empty():
        raise SystemExit("eval_prompts: no prompts selected (check evaluation.*_limit and "
                         "evaluation.alpaca_eval_datasets)")
    fp = fingerprint({"limits": limits, "datasets": cfg.alpaca_eval_datasets, "seed": cfg.seed},
                     inputs=specs)
    write_artifact(prompts, args.out, "eval_prompts", fp)
    write_metrics(args.metrics, {
        "prompts": prompts.height,
        "with_reference": int(prompts["reference"].is_not_null().sum()),
        "by_source": dict(sorted(prompts["source"].value_counts().iter_rows())),
        "read": {spec: frame.height for spec, frame in zip(specs, frames, strict=True)},
    })


if __name__ == "__main__":
    run_stage(main)
