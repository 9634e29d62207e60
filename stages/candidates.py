"""Stage `candidates@<iter>`: N sampled responses per prompt from the iteration's base model.

    python stages/candidates.py --params params.yaml --iteration m2 --model data/models/m1 \
        --prompts data/m2/prompts --out data/m2/candidates --metrics metrics/m2/candidates.json

Resumable: shards of `candidates.shard_size` prompts are written to `<out>.partial/` as they
finish, built by `scale.workers` engine replicas (the same artifact for any number); rerun
after a crash and finished shards are kept (a params change discards them). The finished
`<out>` is replaced only once the new one is complete and valid: a failed run (a broken model
included) leaves it as it was. A second run on the same `--out` fails at once.
"""

from srlm.core.console import run_stage
from srlm.core.lineage import lineage_meta
from srlm.core.stage import StageSpec, artifact, model, text
from srlm.engines import EngineRecipe
from srlm.loop.sampling import CandidateTask, candidate_metrics
from srlm.runtime.shards import ShardWriter, chunks, run_sharded

SPEC = StageSpec(
    name="candidates",
    doc=__doc__,
    options={"iteration": text("the iteration, e.g. m2: it scopes every seed")},
    inputs={"model": model("the iteration's base model"), "prompts": artifact("prompts")},
    params=("candidates", "engine"),
    outputs={"out": artifact("candidates", "one row per sampled response")},
    metrics=("metrics",),
)


def main() -> None:
    stage = SPEC.start()
    params, cfg = stage.params, stage.params.candidates
    prompts = stage.read("prompts").sort("prompt_id")
    # Inputs are read and checked above; the writer takes the output's lock (before any model
    # loads, so a concurrent run fails fast) and never touches the finished `--out`.
    writer = ShardWriter(stage.path("out"), stage.schema("out"), stage.fingerprint(), code=__file__)
    task = CandidateTask(
        EngineRecipe(stage.path("model"), params.engine, "candidates.max_new_tokens"),
        cfg,
        scope=stage.args.iteration,
    )
    rows = list(prompts.select("prompt_id", "prompt").iter_rows())
    # the manifest records the build (srlm.core.lineage): later stages check their inputs match
    meta = lineage_meta(stage.args.iteration, {"prompts": stage.path("prompts")})
    frame = run_sharded(writer, chunks(rows, cfg.shard_size), task, "candidates", params, meta=meta)
    stage.write_metrics(candidate_metrics(frame, prompts.height, cfg.n))


if __name__ == "__main__":
    run_stage(main)
