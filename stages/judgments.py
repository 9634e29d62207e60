"""Stage `judgments@<iter>`: the iteration's base model judges every candidate K times.

    python stages/judgments.py --params params.yaml --iteration m2 --model data/models/m1 \
        --candidates data/m2/candidates --out data/m2/judgments --scores data/m2/scores \
        --metrics metrics/m2/judgments.json

Uses the paper's judge prompt verbatim (srlm/prompts/judge.txt); each sample keeps the raw
text, the parsed score (null when unparseable) and the expected score with its 0..5
probabilities; a candidate's score is the mean of its parsed samples in the `judge.scoring`
mode (both modes are kept). Resumable like the candidates stage, and like it never touches
the finished `--out` unless the new one is complete and valid.
"""

from srlm.core.console import run_stage
from srlm.core.fingerprints import fingerprint
from srlm.core.lineage import expect, lineage_meta
from srlm.core.stage import StageSpec, artifact, model, text
from srlm.engines import EngineRecipe, make_generator
from srlm.evaluation.monitors import self_judge_agreement
from srlm.loop.judge import UNHASHED, JudgeTask, aggregate_scores, judge_model, judgment_metrics
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
    judge = judge_model(cfg, stage.path("model"))
    # Inputs are read and checked above; the writer locks the output before any model loads.
    writer = ShardWriter(stage.path("out"), stage.schema("out"), stage.fingerprint(), code=__file__)
    task = JudgeTask(
        EngineRecipe(judge, params.engine, "judge.max_new_tokens"), cfg, scope=iteration
    )
    rows = list(candidates.select("candidate_id", "prompt_id", "prompt", "response").iter_rows())
    built_from = {"candidates": stage.path("candidates")}
    judgments = run_sharded(
        writer,
        chunks(rows, cfg.shard_size),
        task,
        "judgments",
        params,
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
    agreement = {}
    if judge != stage.path("model"):  # an external judge: would the model's own agree?
        own = make_generator(stage.path("model"), params.engine, "judge.max_new_tokens")
        agreement = {
            "judge_model": judge,
            "self_judge_agreement": self_judge_agreement(
                own, rows, scores, cfg, scope=f"self:{iteration}"
            ),
        }
    stage.write_metrics({**agreement, **judgment_metrics(judgments, scores, cfg.scoring)})


if __name__ == "__main__":
    run_stage(main)
