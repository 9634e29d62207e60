"""Stage `eval_prompts`: the held-out prompts every model answers for evaluation.

    python stages/eval_prompts.py --params params.yaml \
        --references data/raw/oasst/oasst1_en_validation.messages.jsonl \
        --mt-bench data/raw/mt_bench/question.jsonl \
        --mt-bench-references data/raw/mt_bench/reference_answer.gpt-4.jsonl \
        [--prompts srlm/seed_data/eval.trees.jsonl] \
        --out data/eval/prompts --metrics metrics/eval_prompts.json

`--references`: ranked human data whose root prompts come with their best human reply as the
reference answer (the default reference set). With `evaluation.alpaca_eval` set in params,
AlpacaEval's instructions and reference outputs replace them. MT-Bench contributes first
turns (with GPT-4's reference answer where there is one); `--prompts` takes any prompt file the
seed stage reads. Sizes are params.
"""

import argparse

from srlm.core.artifacts import write_artifact, write_metrics
from srlm.core.console import run_stage
from srlm.core.errors import SrlmError
from srlm.core.fingerprints import fingerprint
from srlm.core.params import load_params
from srlm.evaluation.prompts import read_eval_prompts, read_human_references, select_eval_prompts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--references", action="append", default=[],
                        help="ranked human data: root prompts with their best reply")
    parser.add_argument("--mt-bench", action="append", default=[], help="MT-Bench questions")
    parser.add_argument("--mt-bench-references", help="MT-Bench reference answers (jsonl)")
    parser.add_argument("--prompts", action="append", default=[], help="any other prompt file")
    parser.add_argument("--out", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    cfg = load_params(args.params).evaluation
    alpaca_eval = [cfg.alpaca_eval] if cfg.alpaca_eval else []
    if not (args.references or args.mt_bench or args.prompts or alpaca_eval):
        raise SrlmError("eval_prompts: give at least one of --references, --mt-bench, "
                        "--prompts, or set evaluation.alpaca_eval")
    # AlpacaEval first: where it is given, its rows win over the human ones for the same prompt.
    read = [(spec, read_eval_prompts(spec)) for spec in alpaca_eval]
    read += [(spec, read_human_references(spec)) for spec in args.references]
    read += [(spec, read_eval_prompts(spec, args.mt_bench_references)) for spec in args.mt_bench]
    read += [(spec, read_eval_prompts(spec)) for spec in args.prompts]
    limits = {"reference": cfg.reference_limit, "mt_bench": cfg.mt_bench_limit,
              "prompts": cfg.prompts_limit}
    prompts = select_eval_prompts([frame for _, frame in read], limits,
                                  cfg.alpaca_eval_datasets, cfg.random_seed)
    if prompts.is_empty():
        raise SrlmError("eval_prompts: no prompts selected (check evaluation.*_limit and "
                        "evaluation.alpaca_eval_datasets)")
    specs = [spec for spec, _ in read]
    if args.mt_bench_references:
        specs.append(args.mt_bench_references)
    local = [s for s in specs if not s.startswith("hf://")]
    fp = fingerprint({"limits": limits, "datasets": cfg.alpaca_eval_datasets,
                      "seed": cfg.random_seed},
                     inputs=local, remote=[s for s in specs if s.startswith("hf://")])
    write_artifact(prompts, args.out, "eval_prompts", fp)
    references = prompts.filter(prompts["reference"].is_not_null())["reference_model"]
    write_metrics(args.metrics, {
        "prompts": prompts.height,
        "with_reference": references.len(),
        "reference_sets": dict(sorted(references.value_counts().iter_rows())),
        "by_source": dict(sorted(prompts["source"].value_counts().iter_rows())),
        "read": {spec: frame.height for spec, frame in read},
    })


if __name__ == "__main__":
    run_stage(main)
