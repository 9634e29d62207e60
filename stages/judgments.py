"""Stage `judgments@<iter>`: the iteration's base model judges every candidate K times.

    python stages/judgments.py --params params.yaml --iteration m2 --model data/models/m1 \
        --candidates data/m2/candidates --out data/m2/judgments --scores data/m2/scores \
        --metrics metrics/m2/judgments.json

Uses the paper's judge prompt verbatim (srlm/prompts/judge.txt); each sample keeps the raw
text, the parsed score (null when unparseable) and the expected score with its 0..5
probabilities; a candidate's score is the mean of its parsed samples in the `judge.scoring`
mode (both modes are kept). Resumable like the candidates stage, and like it never touches
the finished `--out` unless the new one is complete and valid.

With `judge.endpoint` the judge is an OpenAI-compatible server (srlm.engines.chat_endpoint):
the same prompts, samples and seeds as requests, in this process (`concurrency` in flight),
the endpoint's URL and model in the fingerprint instead of a local model, and the metrics'
`endpoint` block counting requests, retries, tokens and samples without score probabilities.
"""

from srlm.core.console import run_stage
from srlm.core.fingerprints import fingerprint
from srlm.core.lineage import expect, lineage_meta
from srlm.core.stage import StageSpec, artifact, model, text
from srlm.engines import EngineRecipe, make_generator
from srlm.engines.chat_endpoint import EndpointRecipe, endpoint_identity
from srlm.evaluation.monitors import self_judge_agreement
from srlm.loop.judge import (
    UNHASHED,
    JudgeTask,
    aggregate_scores,
    judge_model,
    judgment_metrics,
    parsed_without_probs,
)
from srlm.runtime.shards import ShardWriter, chunks, run_sharded

SPEC = StageSpec(
    name="judgments",
    doc=__doc__,
    options={"iteration": text("the iteration, e.g. m2: it scopes every seed")},
    inputs={
        "model": model("the judge: the iteration's base model (unless judge.model)"),
        "candidates": artifact("candidates"),
    },
    params=("judge", "engine"),
    unhashed=UNHASHED,
    # the judge that judges: `judge.model` when set, by content (see judge_model)
    hashed_inputs=lambda params, args: [judge_model(params.judge, args.model), args.candidates],
    outputs={
        "out": artifact("judgments", "one row per judge sample"),
        "scores": artifact("candidate_scores", "one row per candidate (mean score)"),
    },
    metrics=("metrics",),
)


def main() -> None:
    stage = SPEC.start()
    params, cfg, iteration = stage.params, stage.params.judge, stage.args.iteration
    candidates = stage.read("candidates").sort("candidate_id")
    # the candidates' ids and seeds are scoped by their iteration: another one's is a mistake
    expect(stage.path("candidates"), "iteration", iteration, "--iteration")
    if cfg.endpoint:
        # the server is the judge: its URL and model are the identity (never the key); the
        # local model only answers the agreement sample, which no artifact holds
        judge = endpoint_identity(cfg.endpoint, cfg.endpoint_model or "")
        fp = stage.fingerprint(
            inputs=[stage.path("candidates")],
            judge_endpoint=judge,
            top_logprobs=cfg.endpoint_top_logprobs,
        )
        recipe: EndpointRecipe | EngineRecipe = EndpointRecipe(cfg)
    else:
        judge = judge_model(cfg, stage.path("model"))
        fp = stage.fingerprint()
        recipe = EngineRecipe(judge, params.engine, "judge.max_new_tokens")
    # Inputs are read and checked above; the writer locks the output before any model loads.
    writer = ShardWriter(stage.path("out"), stage.schema("out"), fp, code=__file__)
    task = JudgeTask(recipe, cfg, scope=iteration)
    rows = list(candidates.select("candidate_id", "prompt_id", "prompt", "response").iter_rows())
    built_from = {"candidates": stage.path("candidates")}
    judgments = run_sharded(
        writer,
        chunks(rows, cfg.shard_size),
        task,
        "judgments",
        None if cfg.endpoint else params,  # an endpoint: one process, `concurrency` in flight
        meta=lineage_meta(iteration, built_from),
    )
    scores = aggregate_scores(judgments, cfg.scoring)
    # judge.scoring alone decides the scores from the finished samples
    stage.write(
        "scores",
        scores,
        fingerprint({"scoring": cfg.scoring}, inputs=[stage.path("out")]),
        lineage_meta(iteration, {**built_from, "judgments": stage.path("out")}),
    )
    extra: dict = {}
    if judge != stage.path("model"):  # an external judge: would the model's own agree?
        own = make_generator(stage.path("model"), params.engine, "judge.max_new_tokens")
        extra = {
            "judge_model": judge,
            "self_judge_agreement": self_judge_agreement(
                own, rows, scores, cfg, scope=f"self:{iteration}"
            ),
        }
    if cfg.endpoint:
        # this run's requests only: shards a killed run finished are not asked again
        extra["endpoint"] = {
            **task.generator.usage(),  # (made now if every shard was resumed: all zero)
            "samples_without_score_probs": parsed_without_probs(judgments),
        }
    stage.write_metrics({**extra, **judgment_metrics(judgments, scores, cfg.scoring)})


if __name__ == "__main__":
    run_stage(main)
