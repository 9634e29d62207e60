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

from srlm.core.console import run_stage
from srlm.core.stage import StageSpec, artifact, file, model
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

SPEC = StageSpec(
    name="ifeval",
    doc=__doc__,
    inputs={"model": model(), "data": file("IFEval's input_data.jsonl")},
    params=("ifeval", "evaluation.shard_size", "engine"),
    outputs={
        "out": artifact("ifeval_results"),
        "prompts_table": file("CSV: one row per prompt"),
        "instructions_table": file("CSV: one row per instruction id"),
    },
    metrics=("metrics",),
)


def main() -> None:
    stage = SPEC.start()
    params, cfg = stage.params, stage.params.ifeval
    items = sample_items(read_ifeval(stage.path("data")), cfg.limit, cfg.random_seed)
    task = AnswerTask(
        EngineRecipe(stage.path("model"), params.engine, "ifeval.max_new_tokens"),
        cfg.max_new_tokens,
    )
    rows = [(str(item.key), "ifeval", item.prompt) for item in items]
    answers = map_shards(task, rows, params.evaluation.shard_size, params, "ifeval")
    results = check_answers(items, answers, check_response)
    stage.write("out", results, stage.fingerprint())
    stage.write_table("prompts_table", prompt_table(results))
    stage.write_table("instructions_table", instruction_table(results))
    stage.write_metrics({"model": stage.path("model"), **ifeval_metrics(results)})


if __name__ == "__main__":
    run_stage(main)
