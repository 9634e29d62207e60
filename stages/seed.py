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

import argparse
import logging
from collections import Counter

import polars as pl

from srlm.core.artifacts import PendingArtifact, write_artifacts, write_metrics
from srlm.core.console import run_stage
from srlm.core.fingerprints import fingerprint
from srlm.core.params import as_dict, load_params
from srlm.sources.readers import read_prompts, read_replies
from srlm.sources.seed_sets import build_seed_sets

log = logging.getLogger("stages.seed")


def read_all(specs) -> tuple[pl.DataFrame, Counter]:
    frames, drops = [], Counter()
    for spec in specs:
        frame, dropped = read_replies(spec)
        log.info("%s: %d usable replies, dropped %s", spec, frame.height, dict(dropped) or "none")
        frames.append(frame)
        drops.update(dropped)
    return pl.concat(frames), drops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--source", action="append", required=True, help="training seed data")
    parser.add_argument("--eval-source", action="append", required=True,
                        help="held-out ranked data for EFT-eval (never trained on)")
    parser.add_argument("--decontaminate", action="append", default=[],
                        help="an evaluation set whose prompts are dropped from training data")
    parser.add_argument("--ift", required=True)
    parser.add_argument("--eft", required=True)
    parser.add_argument("--eft-eval", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = params.seed
    train, train_drops = read_all(args.source)
    held_out, eval_drops = read_all(args.eval_source)
    decontaminate = [*args.decontaminate, *filter(None, [params.evaluation.alpaca_eval])]
    eval_prompts = [p for spec in decontaminate for p in read_prompts(spec)]
    ift, eft, eft_eval, stats = build_seed_sets(
        train, held_out, eval_prompts, cfg, files=(", ".join(args.source),
                                                   ", ".join(args.eval_source)),
        read_drops=(train_drops, eval_drops))
    stats.update(dropped_on_read=dict(train_drops), eval_dropped_on_read=dict(eval_drops),
                 decontamination_prompts=len(set(eval_prompts)))
    specs = [*args.source, *args.eval_source, *decontaminate]
    fp = fingerprint(as_dict(cfg), inputs=[s for s in specs if not s.startswith("hf://")],
                     remote=[s for s in specs if s.startswith("hf://")])
    # One set: the three are replaced together or not at all, never a mix of two builds.
    write_artifacts([PendingArtifact(ift, args.ift, "seed_ift", fp),
                     PendingArtifact(eft, args.eft, "seed_eft", fp),
                     PendingArtifact(eft_eval, args.eft_eval, "seed_eft", fp)])
    write_metrics(args.metrics, stats)
    log.info("ift %d, eft %d, eft_eval %d; %d prompts dropped as evaluation duplicates",
             ift.height, eft.height, eft_eval.height, stats["decontaminated_prompts"])


if __name__ == "__main__":
    run_stage(main)
