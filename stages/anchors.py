"""Stage `anchors@<iter>`: M1's judged candidates for the iteration's prompts, the rejected
side of `pairs.mode: anchored` (Temporal Self-Rewarding's anchored rejection).

    python stages/anchors.py --params params.yaml --iteration m3 --anchor-model data/models/m1 \
        --model data/models/m2 --prompts data/m3/prompts --candidates data/m3/candidates \
        --scores data/m3/scores --out data/m3/anchors

In the other pair modes it writes an empty artifact at once (no model is loaded). When the
iteration's own candidates come from the anchor model (m2, whose base is m1), they are the
anchors: nothing is generated twice. Otherwise M1 answers the prompts with the `candidates`
params and the iteration's judge (`--model`, or `judge.endpoint` when set, as in
`judgments@`) scores them with the `judge` params.
"""

from pathlib import Path

import polars as pl

from srlm.core.console import run_stage
from srlm.core.lineage import built_from, expect, lineage_meta, same_candidates
from srlm.core.params import as_dict
from srlm.core.schemas import artifact_frame
from srlm.core.stage import StageSpec, artifact, model, text
from srlm.engines import make_generator
from srlm.engines.chat_endpoint import EndpointRecipe, endpoint_identity
from srlm.loop.judge import aggregate_scores, judge_candidates, judge_model, sampling_params
from srlm.loop.sampling import candidate_requests, candidate_rows


def _anchored(params) -> bool:
    return params.pairs.mode == "anchored"


def fingerprint_params(params, args) -> dict:
    """The anchors' fingerprint params, as they have always been (not the declaration's rule:
    `pairs.mode` counts only as whether anchors are built at all)."""
    return {
        "anchored": _anchored(params),
        "candidates": as_dict(params.candidates),
        "judge": sampling_params(params.judge),
        "scoring": params.judge.scoring,
        "engine": as_dict(params.engine),
        "iteration": args.iteration,
    }


def fingerprint_inputs(params, args) -> list[str]:
    """Every input when anchors are built; the prompts alone for the empty artifact."""
    if not _anchored(params):
        return [args.prompts]
    return [
        args.anchor_model,
        judge_model(params.judge, args.model),
        args.prompts,
        args.candidates,
        args.scores,
    ]


SPEC = StageSpec(
    name="anchors",
    doc=__doc__,
    options={"iteration": text("the iteration, e.g. m3")},
    inputs={
        "anchor_model": model("M1: the model of the anchors"),
        "model": model("the iteration's judge (its base)"),
        "prompts": artifact("prompts"),
        "candidates": artifact("candidates"),
        "scores": artifact("candidate_scores"),
    },
    params=("pairs.mode", "candidates", "judge", "engine"),
    payload=fingerprint_params,
    hashed_inputs=fingerprint_inputs,
    outputs={"out": artifact("anchors")},
)


def check_inputs(stage, paths: dict, candidates: pl.DataFrame) -> None:
    """The prompts, candidates and scores are of this iteration and of one build
    (`srlm.core.lineage`), and the scores score exactly these candidates."""
    for path in paths.values():
        expect(path, "iteration", stage.args.iteration, "--iteration")
    built_from(paths["candidates"], "prompts", paths["prompts"])
    built_from(paths["scores"], "candidates", paths["candidates"])
    same_candidates(stage.read("scores"), candidates, paths["scores"], paths["candidates"])


def main() -> None:
    stage = SPEC.start()
    params, anchor_model = stage.params, stage.path("anchor_model")
    prompts = stage.read("prompts").sort("prompt_id")
    candidates = stage.read("candidates")
    paths = {name: stage.path(name) for name in ("prompts", "candidates", "scores")}
    if _anchored(params):
        check_inputs(stage, paths, candidates)
    else:  # the empty artifact is built from nothing but the prompts (as its fingerprint says)
        paths = {"prompts": paths["prompts"]}
    judge = judge_model(params.judge, stage.path("model"))
    # The iteration's candidates are the anchors when M1 made them and its judge judged them.
    own = Path(anchor_model).resolve() == Path(stage.path("model")).resolve()
    if not _anchored(params):
        rows = []
    elif own:  # the iteration's candidates are M1's already, judged by M1
        scores = stage.read("scores").select("candidate_id", "mean_score")
        rows = candidates.join(scores, on="candidate_id").to_dicts()
    else:
        scope = f"anchors:{stage.args.iteration}"
        requests = candidate_requests(
            prompts.select("prompt_id", "prompt").iter_rows(), params.candidates, scope
        )
        generated = candidate_rows(
            make_generator(anchor_model, params.engine, "candidates.max_new_tokens").generate(
                requests
            ),
            requests,
            scope,
            anchor_model,
        )
        judged = judge_candidates(
            EndpointRecipe(params.judge).load()
            if params.judge.endpoint
            else make_generator(judge, params.engine, "judge.max_new_tokens"),
            [(r["candidate_id"], r["prompt_id"], r["prompt"], r["response"]) for r in generated],
            params.judge,
            scope,
        )
        means = dict(
            aggregate_scores(judged, params.judge.scoring)
            .select("candidate_id", "mean_score")
            .iter_rows()
        )
        rows = [{**r, "mean_score": means.get(r["candidate_id"])} for r in generated]
    anchors = artifact_frame("anchors", rows).sort("candidate_id")
    # `anchored` (not the mode itself: the same as the fingerprint) lets pairs refuse anchors
    # built in another mode, which are empty
    cfg = params.judge
    # the judge endpoint is identity where it judges (as in judgments@); unset, nothing changes
    endpoint = (
        {
            "judge_endpoint": endpoint_identity(cfg.endpoint, cfg.endpoint_model or ""),
            "top_logprobs": cfg.endpoint_top_logprobs,
        }
        if cfg.endpoint and _anchored(params)
        else {}
    )
    stage.write(
        "out",
        anchors,
        stage.fingerprint(**endpoint),
        lineage_meta(stage.args.iteration, paths, anchored=_anchored(params)),
    )
    if _anchored(params):
        print(
            f"{stage.path('out')}: {anchors.height} anchor candidates, "
            f"{anchors.filter(pl.col('mean_score').is_not_null()).height} scored"
        )


if __name__ == "__main__":
    run_stage(main)
