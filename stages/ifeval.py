"""Stage `ifeval@<model>`: judge-free instruction following (IFEval, Zhou et al. 2023).

    python stages/ifeval.py --params params.yaml --model data/models/m2 \
        --data data/raw/ifeval/input_data.jsonl --out data/eval/m2/ifeval \
        --metrics metrics/m2/ifeval.json --prompts-table metrics/m2/ifeval_prompts.csv \
        --instructions-table metrics/m2/ifeval_instructions.csv

The model answers a seeded sample of IFEval's prompts (`ifeval.limit`; 0 = all 541) greedily
through its chat template; code checks each instruction (srlm/evaluation/ifeval.py). Writes
the checked answers, the four accuracies with intervals, and two tables: per prompt (the
report's paired differences between models read it) and per instruction id.
"""

import argparse

from srlm.core.artifacts import write_artifact, write_metrics, write_table
from srlm.core.console import run_stage
from srlm.core.fingerprints import fingerprint
from srlm.core.params import as_dict, load_params
from srlm.engines import EngineRecipe
from srlm.evaluation.answers import AnswerTask
from srlm.evaluation.ifeval import check_response, read_ifeval
from srlm.evaluation.ifeval_metrics import (
    check_answers,
    ifeval_metrics,
    instruction_table,
    prompt_table,
    sample_items,
)
from srlm.runtime.shards import map_shards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="IFEval's input_data.jsonl")
    parser.add_argument("--out", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--prompts-table", required=True, help="CSV: one row per prompt")
    parser.add_argument("--instructions-table", required=True, help="CSV: one row per id")
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = params.ifeval
    items = sample_items(read_ifeval(args.data), cfg.limit, cfg.random_seed)
    task = AnswerTask(EngineRecipe(args.model, params.engine, "ifeval.max_new_tokens"),
                      cfg.max_new_tokens)
    rows = [(str(item.key), "ifeval", item.prompt) for item in items]
    answers = map_shards(task, rows, params.evaluation.shard_size, params, "ifeval")
    results = check_answers(items, answers, check_response)
    fp = fingerprint({"ifeval": as_dict(cfg), "shard_size": params.evaluation.shard_size,
                      "engine": as_dict(params.engine)}, inputs=[args.model, args.data])
    write_artifact(results, args.out, "ifeval_results", fp)
    write_table(args.prompts_table, prompt_table(results))
    write_table(args.instructions_table, instruction_table(results))
    write_metrics(args.metrics, {"model": args.model, **ifeval_metrics(results)})


if __name__ == "__main__":
    run_stage(main)
