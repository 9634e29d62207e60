"""Stage `prompts@<iter>`: the iteration's base model writes new prompts (self-instruct).

    python stages/prompts.py --params params.yaml --iteration m2 --model data/models/m1 \
        --ift data/seed/ift --eft-eval data/seed/eft_eval --eval-prompts data/eval/prompts \
        --out data/m2/prompts --dropped data/m2/prompts_dropped --metrics metrics/m2/prompts.json

Generated prompts that repeat an evaluation prompt (EFT-eval or eval_prompts) are dropped.
Every dropped generation is kept in `--dropped`, with its reason and few-shot ids (the data
view shows them); the metrics count the same rows by reason.
"""

import logging

from srlm.core.artifacts import write_artifacts
from srlm.core.console import run_stage
from srlm.core.errors import SrlmError
from srlm.core.lineage import lineage_meta
from srlm.core.schemas import artifact_frame
from srlm.core.stage import StageSpec, artifact, model, text
from srlm.engines import make_generator
from srlm.loop.selfinstruct import generate_prompts, prompt_metrics
from srlm.runtime.requests import user_request

log = logging.getLogger("stages.prompts")

SPEC = StageSpec(
    name="prompts",
    doc=__doc__,
    options={"iteration": text("the iteration, e.g. m2: it scopes every seed")},
    inputs={
        "model": model("the iteration's base model"),
        "ift": artifact("seed_ift", "seed IFT: few-shot examples"),
        "eft_eval": artifact("seed_eft", "evaluation prompts to keep out"),
        "eval_prompts": artifact(
            "eval_prompts", "the eval_prompts artifact: also kept out", required=False
        ),
    },
    params=("prompts", "engine"),
    # prompts.fewshot_from_seed was named fewshot_seed: the fingerprint keeps the old key, so
    # the artifact keeps its bytes
    hashed_as={"prompts.fewshot_from_seed": "fewshot_seed"},
    outputs={
        "out": artifact("prompts"),
        "dropped": artifact("dropped_prompts", "the generations dropped, each with its reason"),
    },
    metrics=("metrics",),
)


def main() -> None:
    stage = SPEC.start()
    cfg, iteration, generator_path = stage.params.prompts, stage.args.iteration, stage.path("model")
    ift = stage.read("ift")
    forbidden = stage.read("eft_eval")["prompt"].unique().to_list()
    if stage.path("eval_prompts"):
        forbidden += stage.read("eval_prompts")["prompt"].to_list()
    generator = make_generator(generator_path, stage.params.engine, "prompts.max_new_tokens")

    def complete(batch):
        requests = [
            user_request(
                rid,
                text,
                max_new_tokens=cfg.max_new_tokens,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                seed=seed,
            )
            for rid, text, seed in batch
        ]
        return [c.text for c in generator.generate(requests)]

    seed_prompts = dict(ift.select("example_id", "prompt").iter_rows())
    rows, dropped, reasons = generate_prompts(complete, seed_prompts, forbidden, iteration, cfg)
    frame = artifact_frame(
        "prompts", [{**r, "iteration": iteration, "generator": generator_path} for r in rows]
    )
    dropped_frame = artifact_frame(
        "dropped_prompts", [{**r, "iteration": iteration} for r in dropped]
    )
    fp, meta = stage.fingerprint(), lineage_meta(iteration)
    # One set, one fingerprint: the prompts and the generations dropped beside them are
    # replaced together or not at all, never a mix of two builds.
    write_artifacts(
        [
            stage.pending("out", frame, fp, meta),
            stage.pending("dropped", dropped_frame, fp, meta),
        ]
    )
    stage.write_metrics(prompt_metrics(frame, reasons))
    log.info(
        "%s: kept %d of %d generated prompts; dropped %s",
        iteration,
        frame.height,
        sum(reasons.values()),
        {k: v for k, v in reasons.items() if k != "kept"},
    )
    if frame.height == 0:
        raise SrlmError(
            f"{stage.path('out')}: no prompt passed the filters "
            f"({stage.path('metrics')} counts why); raise prompts.n_generate or "
            "relax the filters"
        )


if __name__ == "__main__":
    run_stage(main)
