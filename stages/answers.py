"""Stage `answers@<model>`: the model's greedy answer to every evaluation prompt.

    python stages/answers.py --params params.yaml --model data/models/m2 \
        --prompts data/eval/prompts --out data/eval/m2/answers --metrics metrics/m2/answers.json

The answers feed the head-to-head and reference comparisons; the metrics hold their lengths
(the paper's answers grew longer with each iteration).
"""

import argparse

from srlm.core.artifacts import read_artifact, write_artifact, write_metrics
from srlm.core.console import run_stage
from srlm.core.errors import SrlmError
from srlm.core.fingerprints import fingerprint
from srlm.core.params import as_dict, load_params
from srlm.engines import EngineRecipe
from srlm.evaluation.answers import AnswerTask
from srlm.evaluation.metrics import length_metrics
from srlm.runtime.shards import map_shards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompts", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = params.evaluation
    prompts = read_artifact(args.prompts, "eval_prompts")
    if prompts.is_empty():
        raise SrlmError(f"answers: {args.prompts} has no prompts to answer (rebuild it with "
                        "`dvc repro eval_prompts`)")
    task = AnswerTask(EngineRecipe(args.model, params.engine, "evaluation.max_new_tokens"),
                      cfg.max_new_tokens)
    rows = list(prompts.select("prompt_id", "source", "prompt").iter_rows())
    answers = map_shards(task, rows, cfg.shard_size, params, "answers")
    fp = fingerprint({"max_new_tokens": cfg.max_new_tokens, "shard_size": cfg.shard_size,
                      "engine": as_dict(params.engine)}, inputs=[args.model, args.prompts])
    write_artifact(answers, args.out, "answers", fp)
    write_metrics(args.metrics, {"model": args.model, **length_metrics(answers)})


if __name__ == "__main__":
    run_stage(main)
