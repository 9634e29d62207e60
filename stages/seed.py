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

With `seed.eft_mode: model_rationales` the `teacher` (a local model folder, or an
OpenAI-compatible endpoint) writes the judge's rationale and score for every EFT reply; only
the groups whose scores order the replies as the human ranks do are kept
(srlm.loop.eft_rationales), and `metrics: eft_rationales` counts what was dropped and why.
"""

import logging
from collections import Counter

import polars as pl

from srlm.core.artifacts import metrics_text, write_artifacts
from srlm.core.console import run_stage
from srlm.core.params import as_dict
from srlm.core.params_endpoint import TRANSPORT_KEYS
from srlm.core.stage import StageSpec, artifact, file
from srlm.engines import make_generator
from srlm.engines.chat_endpoint import EndpointRecipe, endpoint_identity
from srlm.loop.eft_rationales import teach_eft
from srlm.sources.readers import read_prompts, read_replies
from srlm.sources.seed_sets import EmptySeedSetError, build_seed_sets, eft_figures

log = logging.getLogger("stages.seed")


def decontamination_files(params, args) -> list[str]:
    """The `--decontaminate` files, then the AlpacaEval file of params where one is set."""
    return [*args.decontaminate, *filter(None, [params.evaluation.alpaca_eval])]


def rationales(params) -> bool:
    """Whether a teacher writes the EFT targets (`seed.eft_mode: model_rationales`)."""
    return params.seed.eft_mode == "model_rationales"


def payload(params, args) -> dict:
    """The seed group itself, as it has always been (not under its name); with a teacher, its
    sampling params and, for a local teacher, the engine's (what decides its rationales)."""
    seed = as_dict(params.seed)
    if not rationales(params):
        return seed
    identity = {"model", "endpoint", "endpoint_model", *TRANSPORT_KEYS}  # inputs / transport
    teacher = {k: v for k, v in as_dict(params.teacher).items() if k not in identity}
    engine = {} if params.teacher.endpoint else {"engine": as_dict(params.engine)}
    return {**seed, "teacher": teacher, **engine}


def teacher_model(params) -> list[str]:
    """The local teacher model folder, hashed by content, when one writes the rationales."""
    return [params.teacher.model] if rationales(params) and params.teacher.model else []


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
    params=("seed", "teacher", "engine", "evaluation.alpaca_eval"),
    payload=payload,
    # the AlpacaEval file counts as an input, by content, and so does a local teacher
    hashed_inputs=lambda params, args: [
        *args.source,
        *args.eval_source,
        *decontamination_files(params, args),
        *teacher_model(params),
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


def teacher_name(teacher) -> str:
    """Who the teacher is: an endpoint's URL and model (never the key), or the model folder."""
    if teacher.endpoint:
        return endpoint_identity(teacher.endpoint, teacher.endpoint_model or "")
    return teacher.model


def rationale_eft(params, eft: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """The EFT groups the teacher agrees with, its rationales as targets, and the counts; an
    error naming the counts when it agrees with none."""
    teacher, who = params.teacher, teacher_name(params.teacher)
    if teacher.endpoint:
        generator = EndpointRecipe(teacher).load()
    else:
        generator = make_generator(teacher.model, params.engine, "teacher.max_new_tokens")
    log.info("teacher %s: judging %d EFT replies", who, eft.height)
    kept, stats = teach_eft(generator, eft, teacher)
    if kept.is_empty():
        raise EmptySeedSetError(
            f"seed.eft_mode model_rationales: the teacher ({who}) ordered none of the "
            f"{stats['groups']} EFT groups as the human ranks do (dropped: "
            f"{', '.join(f'{k} {v}' for k, v in stats['dropped_groups'].items() if v)}); "
            "try a stronger teacher, a larger teacher.max_new_tokens or seed.eft_size"
        )
    log.info(
        "teacher kept %d of %d EFT groups (%d replies); dropped %s",
        stats["kept_groups"],
        stats["groups"],
        stats["kept_replies"],
        stats["dropped_groups"],
    )
    return kept, {"teacher": who, **stats}


def main() -> None:
    stage = SPEC.start()
    params = stage.params
    sources, eval_sources = stage.path("source"), stage.path("eval_source")
    train, train_drops = read_all(sources)
    held_out, eval_drops = read_all(eval_sources)
    decontaminate = decontamination_files(params, stage.args)
    eval_prompts = [p for spec in decontaminate for p in read_prompts(spec)]
    ift, eft, eft_eval, stats = build_seed_sets(
        train,
        held_out,
        eval_prompts,
        params.seed,
        files=(", ".join(sources), ", ".join(eval_sources)),
        read_drops=(train_drops, eval_drops),
    )
    stats.update(
        dropped_on_read=dict(train_drops),
        eval_dropped_on_read=dict(eval_drops),
        decontamination_prompts=len(set(eval_prompts)),
    )
    # a server as the teacher: its URL and model are its identity (a local one is hashed)
    on_server = rationales(params) and params.teacher.endpoint
    fp = stage.fingerprint(
        **({"teacher_endpoint": teacher_name(params.teacher)} if on_server else {})
    )
    if rationales(params) and eft.height:
        eft, stats["eft_rationales"] = rationale_eft(params, eft)
        # the set's figures are the kept set's; eft_rationales holds what the teacher saw
        stats.update(eft_figures(eft, "eft"))
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
