"""Stage `pairs@<iter>`: (best, worst) candidate per prompt by mean self-judged score.

    python stages/pairs.py --params params.yaml --candidates data/m2/candidates \
        --scores data/m2/scores --out data/m2/pairs --metrics metrics/m2/pairs.json

Pairs use the scores of the mode `judge.scoring` chose and the rule of `pairs.mode`
(srlm/loop/pairs.py; `anchored` reads `--anchors`, M1's judged candidates); the metrics also
show the yield each scoring mode and minimum margin would give (`yield_by_setting`).
"""

import logging

from srlm.core.artifacts import read_manifest
from srlm.core.console import run_stage
from srlm.core.errors import SrlmError
from srlm.core.lineage import (
    REBUILD,
    LineageError,
    built_from,
    lineage,
    lineage_meta,
    same,
    same_candidates,
)
from srlm.core.stage import StageSpec, artifact
from srlm.loop.pairs import build_pairs, pairs_metrics

log = logging.getLogger("stages.pairs")


def fingerprint_params(params, args) -> dict:
    """The pairs' fingerprint params, as they have always been: the paper's rule (max_min,
    min_margin 0) keeps its original, empty fingerprint params, so its pairs keep their bytes;
    any other setting is part of them."""
    cfg = params.pairs
    fp_params = {"min_margin": cfg.min_margin} if cfg.min_margin else {}
    if cfg.mode != "max_min":
        fp_params.update(mode=cfg.mode, length_epsilon=cfg.length_epsilon)
    return fp_params


def fingerprint_inputs(params, args) -> list[str]:
    """The candidates and scores; the anchors too where mode `anchored` reads them."""
    anchored = params.pairs.mode == "anchored"
    return [args.candidates, args.scores, *([args.anchors] if anchored else [])]


SPEC = StageSpec(
    name="pairs",
    doc=__doc__,
    inputs={
        "candidates": artifact("candidates"),
        "scores": artifact("candidate_scores"),
        "anchors": artifact(
            "anchors", "the anchors artifact (used by pairs.mode anchored)", required=False
        ),
    },
    params=("pairs",),
    payload=fingerprint_params,
    hashed_inputs=fingerprint_inputs,
    outputs={"out": artifact("pairs")},
    metrics=("metrics",),
)


def check_anchors(stage, anchors, candidates) -> None:
    """Anchors built for `pairs.mode: anchored`, of the candidates' build: anchors built in
    another mode are empty and would give 0 anchored rejections without a word."""
    path, where = stage.path("anchors"), stage.path("candidates")
    if lineage(read_manifest(path)).get("anchored") is False:
        raise LineageError(
            f"{path}: built in another pairs.mode (manifest lineage 'anchored' "
            f"is false: no anchors), but {stage.args.params} sets pairs.mode "
            f"'anchored'; {REBUILD}"
        )
    same("iteration", path, where)
    built_from(path, "candidates", where)
    if anchors.is_empty() and not candidates.is_empty():  # one built before lineage was kept
        raise LineageError(
            f"{path}: no anchor candidates for the {candidates.height} of "
            f"{where} (manifest 'rows' 0: built in another pairs.mode?); {REBUILD}"
        )


def main() -> None:
    stage = SPEC.start()
    cfg = stage.params.pairs
    candidates = stage.read("candidates")
    scores = stage.read("scores")
    # the candidates and their scores must be of one build (srlm.core.lineage)
    same("iteration", stage.path("candidates"), stage.path("scores"))
    built_from(stage.path("scores"), "candidates", stage.path("candidates"))
    same_candidates(scores, candidates, stage.path("scores"), stage.path("candidates"))
    scored = candidates.select("prompt_id", "candidate_id", "prompt", "response").join(
        scores.select("candidate_id", "mean_score", "sampled_score", "expected_score"),
        on="candidate_id",
        how="left",
    )
    anchored = cfg.mode == "anchored"
    if anchored and not stage.path("anchors"):
        raise SrlmError("pairs.mode anchored needs --anchors (the anchors@<iter> artifact)")
    anchors = stage.read("anchors") if anchored else None
    if anchors is not None:
        check_anchors(stage, anchors, candidates)
    pairs, drops = build_pairs(scored, cfg.min_margin, cfg.mode, cfg.length_epsilon, anchors)
    inputs = {
        name: stage.path(name)
        for name in ("candidates", "scores", "anchors")
        if name != "anchors" or anchored
    }  # what the fingerprint counts
    iteration = lineage(read_manifest(stage.path("candidates"))).get("iteration")
    stage.write("out", pairs, stage.fingerprint(), lineage_meta(iteration, inputs))
    stats = pairs_metrics(pairs, drops, scored, candidates, cfg)
    stage.write_metrics(stats)
    log.info("%d pairs from %d prompts; dropped %s", stats["pairs"], stats["prompts"], drops)


if __name__ == "__main__":
    run_stage(main)
