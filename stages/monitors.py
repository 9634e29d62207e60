"""Stage `monitors@<iter>`: the failure modes of the loop, measured for one iteration.

    python stages/monitors.py --params params.yaml --iteration m2 --model data/models/m2 \
        --candidates data/m2/candidates --judgments data/m2/judgments --scores data/m2/scores \
        --pairs data/m2/pairs --prompts data/m2/prompts --answers data/eval/m2/answers \
        --m1-answers data/eval/m1/answers --out data/m2/rejudged --metrics metrics/m2/monitors.json

The model this iteration trained re-judges a seeded sample of the iteration's candidates
(`monitors.consistency_sample`, with the loop's judge params), written as `rejudged`; the
metrics are described in srlm/evaluation/monitors.py.
"""

from srlm.core.console import run_stage
from srlm.core.stage import StageSpec, artifact, model, text
from srlm.engines import make_generator
from srlm.evaluation.monitors import consistency_sample, loop_monitors
from srlm.loop.judge import UNHASHED, aggregate_scores, judge_candidates

SPEC = StageSpec(
    name="monitors",
    doc=__doc__,
    options={"iteration": text("the iteration, e.g. m2")},
    inputs={
        "model": model("the model this iteration trained"),
        "candidates": artifact("candidates"),
        # read for the metrics only: not part of the rejudged artifact's fingerprint
        "judgments": artifact("judgments", hashed=False),
        "scores": artifact("candidate_scores", hashed=False),
        "pairs": artifact("pairs", hashed=False),
        "prompts": artifact("prompts", hashed=False),
        "answers": artifact("answers", hashed=False),
        "m1_answers": artifact("answers", hashed=False),
    },
    params=("judge", "engine", "monitors"),
    unhashed=UNHASHED,
    outputs={"out": artifact("judgments", "the trained model's judgments of the sample")},
    metrics=("metrics",),
)


def main() -> None:
    stage = SPEC.start()
    params, cfg, iteration = stage.params, stage.params.judge, stage.args.iteration
    candidates = stage.read("candidates")
    scores = stage.read("scores")
    picked = consistency_sample(
        candidates["candidate_id"].to_list(),
        params.monitors.consistency_sample,
        params.monitors.random_seed,
    )
    rows = candidates.filter(candidates["candidate_id"].is_in(picked)).sort("candidate_id")
    generator = make_generator(stage.path("model"), params.engine, "judge.max_new_tokens")
    rejudged = judge_candidates(
        generator,
        rows.select("candidate_id", "prompt_id", "prompt", "response").iter_rows(),
        cfg,
        scope=f"monitors:{iteration}",
    )
    stage.write("out", rejudged, stage.fingerprint())
    after = aggregate_scores(rejudged, cfg.scoring).select("candidate_id", score="mean_score")
    before = scores.filter(scores["candidate_id"].is_in(picked)).select(
        "candidate_id", score="mean_score"
    )
    stage.write_metrics(
        {
            "iteration": iteration,
            "scoring": cfg.scoring,
            **loop_monitors(
                stage.read("judgments"),
                stage.read("pairs"),
                stage.read("prompts").height,
                stage.read("answers"),
                stage.read("m1_answers"),
                before,
                after,
            ),
        }
    )


if __name__ == "__main__":
    run_stage(main)
