"""Stage `pairs@<iter>`: (best, worst) candidate per prompt by mean self-judged score.

    python stages/pairs.py --params params.yaml --candidates data/m2/candidates \
        --scores data/m2/scores --out data/m2/pairs --metrics metrics/m2/pairs.json

Pairs use the scores of the mode `judge.scoring` chose and the rule of `pairs.mode`
(srlm/loop/pairs.py; `anchored` reads `--anchors`, M1's judged candidates); the metrics also
show the yield each scoring mode and minimum margin would give (`yield_by_setting`).
"""

import argparse
import logging

from srlm.core.artifacts import read_artifact, write_artifact, write_metrics
from srlm.core.console import run_stage
from srlm.core.errors import SrlmError
from srlm.core.fingerprints import fingerprint
from srlm.core.params import load_params
from srlm.loop.pairs import build_pairs, pair_statistics, yield_by_setting

log = logging.getLogger("stages.pairs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--candidates", required=True)
    parser.add_argument("--scores", required=True)
    parser.add_argument("--anchors", help="the anchors artifact (used by pairs.mode anchored)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    cfg = load_params(args.params).pairs
    candidates = read_artifact(args.candidates, "candidates")
    scores = read_artifact(args.scores, "candidate_scores")
    scored = candidates.select("prompt_id", "candidate_id", "prompt", "response").join(
        scores.select("candidate_id", "mean_score", "sampled_score", "expected_score"),
        on="candidate_id", how="left",
    )
    anchored = cfg.mode == "anchored"
    if anchored and not args.anchors:
        raise SrlmError("pairs.mode anchored needs --anchors (the anchors@<iter> artifact)")
    anchors = read_artifact(args.anchors, "anchors") if anchored else None
    pairs, drops = build_pairs(scored, cfg.min_margin, cfg.mode, cfg.length_epsilon, anchors)
    # The paper's rule (max_min, min_margin 0) keeps its original fingerprint, so its pairs
    # keep their bytes; any other setting is part of it.
    fp_params = {"min_margin": cfg.min_margin} if cfg.min_margin else {}
    if cfg.mode != "max_min":
        fp_params.update(mode=cfg.mode, length_epsilon=cfg.length_epsilon)
    inputs = [args.candidates, args.scores, *([args.anchors] if anchored else [])]
    write_artifact(pairs, args.out, "pairs", fingerprint(fp_params, inputs=inputs))
    stats = pair_statistics(pairs, drops)
    stats.update(min_margin=cfg.min_margin, mode=cfg.mode)
    if cfg.mode == "length_controlled":
        stats["length_epsilon"] = cfg.length_epsilon
    if anchored:  # rejected answers that are not among the iteration's own candidates
        stats["anchored_rejections"] = pairs.join(
            candidates.select("prompt_id", rejected="response"), on=["prompt_id", "rejected"],
            how="anti").height
    stats["yield_by_setting"] = yield_by_setting(
        scored, {"sampled": "sampled_score", "expected": "expected_score"}, cfg.min_margin)
    write_metrics(args.metrics, stats)
    log.info("%d pairs from %d prompts; dropped %s", stats["pairs"], stats["prompts"], drops)


if __name__ == "__main__":
    run_stage(main)
