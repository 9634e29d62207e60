"""Stage `seed`: human seed data -> `seed/ift`, `seed/eft`, `seed/eft_eval` artifacts.

    python stages/seed.py --params params.yaml \
        --source srlm/seed_data/train.trees.jsonl --eval-source srlm/seed_data/eval.trees.jsonl \
        [--decontaminate data/raw/mt_bench/question.jsonl] \
        --ift data/seed/ift --eft data/seed/eft --eft-eval data/seed/eft_eval \
        --metrics metrics/seed.json

Sources are oasst trees / flat messages (.jsonl, .parquet, hf://OWNER/NAME[:split]) or plain
{prompt, response, rank|score} files; `--decontaminate` files are evaluation sets (AlpacaEval,
MT-Bench, prompt lists, any seed format) whose prompts must never be trained on; the AlpacaEval
file named by `evaluation.alpaca_eval` in params, when set, is one of them too.
"""

import logging
from collections import Counter

import polars as pl

from srlm.core.artifacts import metrics_text, write_artifacts
from srlm.core.console import run_stage
from srlm.core.params import as_dict
from srlm.core.stage import StageSpec, artifact, file
from srlm.sources.readers import read_prompts, read_replies
from srlm.sources.seed_sets import build_seed_sets

log = logging.getLogger("stages.seed")


def decontamination_files(params, args) -> list[str]:
    """The `--decontaminate` files, then the AlpacaEval file of params where one is set."""
    return [*args.decontaminate, *filter(None, [params.evaluation.alpaca_eval])]


SPEC = StageSpec(
    name="seed",
    doc=__doc__,
    inputs={
        "source": file("training seed data", many=True),
        "eval_source": file("held-out ranked data for EFT-eval (never trained on)", many=True),
        "decontaminate": file(
            "an evaluation set whose prompts are dropped from training data",
            required=False,
            many=True,
        ),
    },
    params=("seed", "evaluation.alpaca_eval"),
    # as it has always been: the seed group itself (not under its name); the AlpacaEval file
    # counts as an input, by content
    payload=lambda params, args: as_dict(params.seed),
    hashed_inputs=lambda params, args: [
        *args.source,
        *args.eval_source,
        *decontamination_files(params, args),
    ],
    hub=True,
    outputs={
        "ift": artifact("seed_ift"),
        "eft": artifact("seed_eft"),
        "eft_eval": artifact("seed_eft"),
    },
    metrics=("metrics",),
)


def read_all(specs) -> tuple[pl.DataFrame, Counter]:
    frames, drops = [], Counter()
    for spec in specs:
        frame, dropped = read_replies(spec)
        log.info("%s: %d usable replies, dropped %s", spec, frame.height, dict(dropped) or "none")
        frames.append(frame)
        drops.update(dropped)
    return pl.concat(frames), drops


def main() -> None:
    stage = SPEC.start()
    sources, eval_sources = stage.path("source"), stage.path("eval_source")
    train, train_drops = read_all(sources)
    held_out, eval_drops = read_all(eval_sources)
    decontaminate = decontamination_files(stage.params, stage.args)
    eval_prompts = [p for spec in decontaminate for p in read_prompts(spec)]
    ift, eft, eft_eval, stats = build_seed_sets(
        train,
        held_out,
        eval_prompts,
        stage.params.seed,
        files=(", ".join(sources), ", ".join(eval_sources)),
        read_drops=(train_drops, eval_drops),
    )
    stats.update(
        dropped_on_read=dict(train_drops),
        eval_dropped_on_read=dict(eval_drops),
        decontamination_prompts=len(set(eval_prompts)),
    )
    fp = stage.fingerprint()
    # One set: the three and the metrics that describe them are replaced together or not at
    # all (a kill -9 included), never a mix of two builds.
    write_artifacts(
        [
            stage.pending("ift", ift, fp),
            stage.pending("eft", eft, fp),
            stage.pending("eft_eval", eft_eval, fp),
        ],
        files={stage.path("metrics"): metrics_text(stats)},
    )
    log.info(
        "ift %d, eft %d, eft_eval %d; %d prompts dropped as evaluation duplicates",
        ift.height,
        eft.height,
        eft_eval.height,
        stats["decontaminated_prompts"],
    )


if __name__ == "__main__":
    run_stage(main)
