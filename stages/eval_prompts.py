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

from srlm.core.console import run_stage
from srlm.core.errors import SrlmError
from srlm.core.stage import StageSpec, artifact, file
from srlm.evaluation.prompts import (
    eval_prompt_metrics,
    read_eval_prompts,
    read_human_references,
    select_eval_prompts,
)


def _limits(cfg) -> dict[str, int]:
    return {
        "reference": cfg.reference_limit,
        "mt_bench": cfg.mt_bench_limit,
        "prompts": cfg.prompts_limit,
    }


def fingerprint_params(params, args) -> dict:
    """The fingerprint params, as they have always been: the limits, datasets and seed."""
    cfg = params.evaluation
    return {"limits": _limits(cfg), "datasets": cfg.alpaca_eval_datasets, "seed": cfg.random_seed}


def read_files(params, args) -> list[str]:
    """Every file read, in reading order: AlpacaEval first (where it is given, its rows win
    over the human ones for the same prompt), then the flags' files."""
    alpaca_eval = [params.evaluation.alpaca_eval] if params.evaluation.alpaca_eval else []
    return [*alpaca_eval, *args.references, *args.mt_bench, *args.prompts]


SPEC = StageSpec(
    name="eval_prompts",
    doc=__doc__,
    inputs={
        "references": file(
            "ranked human data: root prompts with their best reply", required=False, many=True
        ),
        "mt_bench": file("MT-Bench questions", required=False, many=True),
        "mt_bench_references": file("MT-Bench reference answers (jsonl)", required=False),
        "prompts": file("any other prompt file", required=False, many=True),
    },
    params=(
        "evaluation.reference_limit",
        "evaluation.alpaca_eval",
        "evaluation.alpaca_eval_datasets",
        "evaluation.mt_bench_limit",
        "evaluation.prompts_limit",
        "evaluation.random_seed",
    ),
    payload=fingerprint_params,
    hashed_inputs=lambda params, args: [
        *read_files(params, args),
        *filter(None, [args.mt_bench_references]),
    ],
    hub=True,
    outputs={"out": artifact("eval_prompts")},
    metrics=("metrics",),
)


def main() -> None:
    stage = SPEC.start()
    cfg, args = stage.params.evaluation, stage.args
    if not read_files(stage.params, args):
        raise SrlmError(
            "eval_prompts: give at least one of --references, --mt-bench, "
            "--prompts, or set evaluation.alpaca_eval"
        )
    read = [(spec, read_eval_prompts(spec)) for spec in filter(None, [cfg.alpaca_eval])]
    read += [(spec, read_human_references(spec)) for spec in args.references]
    read += [(spec, read_eval_prompts(spec, args.mt_bench_references)) for spec in args.mt_bench]
    read += [(spec, read_eval_prompts(spec)) for spec in args.prompts]
    prompts = select_eval_prompts(
        [frame for _, frame in read], _limits(cfg), cfg.alpaca_eval_datasets, cfg.random_seed
    )
    if prompts.is_empty():
        raise SrlmError(
            "eval_prompts: no prompts selected (check evaluation.*_limit and "
            "evaluation.alpaca_eval_datasets)"
        )
    stage.write("out", prompts, stage.fingerprint())
    stage.write_metrics(eval_prompt_metrics(prompts, read))


if __name__ == "__main__":
    run_stage(main)
