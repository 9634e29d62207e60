"""Stage `prompts@<iter>`: the iteration's base model writes new prompts (self-instruct).

    python stages/prompts.py --params params.yaml --iteration m2 --model data/models/m1 \
        --ift data/seed/ift --eft-eval data/seed/eft_eval --eval-prompts data/eval/prompts \
        --out data/m2/prompts --metrics metrics/m2/prompts.json

Generated prompts that repeat an evaluation prompt (EFT-eval or eval_prompts) are dropped.
"""

import argparse
import logging

from srlm.core.artifacts import read_artifact, write_artifact, write_metrics
from srlm.core.console import run_stage
from srlm.core.errors import SrlmError
from srlm.core.fingerprints import fingerprint
from srlm.core.params import as_dict, load_params
from srlm.core.schemas import artifact_frame
from srlm.engines import make_generator
from srlm.loop.selfinstruct import generate_prompts
from srlm.runtime.requests import user_request

log = logging.getLogger("stages.prompts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--iteration", required=True)
    parser.add_argument("--model", required=True, help="the iteration's base model")
    parser.add_argument("--ift", required=True, help="seed IFT: few-shot examples")
    parser.add_argument("--eft-eval", required=True, help="evaluation prompts to keep out")
    parser.add_argument("--eval-prompts", help="the eval_prompts artifact: also kept out")
    parser.add_argument("--out", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = params.prompts
    ift = read_artifact(args.ift, "seed_ift")
    forbidden = read_artifact(args.eft_eval, "seed_eft")["prompt"].unique().to_list()
    inputs = [args.model, args.ift, args.eft_eval]
    if args.eval_prompts:
        forbidden += read_artifact(args.eval_prompts, "eval_prompts")["prompt"].to_list()
        inputs.append(args.eval_prompts)
    generator = make_generator(args.model, params.engine, "prompts.max_new_tokens")

    def complete(batch):
        requests = [user_request(rid, text, max_new_tokens=cfg.max_new_tokens,
                                 temperature=cfg.temperature, top_p=cfg.top_p, seed=seed)
                    for rid, text, seed in batch]
        return [c.text for c in generator.generate(requests)]

    seed_prompts = dict(ift.select("example_id", "prompt").iter_rows())
    rows, reasons = generate_prompts(complete, seed_prompts, forbidden, args.iteration, cfg)
    frame = artifact_frame(
        "prompts", [{**r, "iteration": args.iteration, "generator": args.model} for r in rows])
    # prompts.fewshot_from_seed was named fewshot_seed: the payload keeps the old key, so the
    # artifact keeps its bytes.
    prompts_params = {("fewshot_seed" if k == "fewshot_from_seed" else k): v
                      for k, v in as_dict(cfg).items()}
    fp = fingerprint({"prompts": prompts_params, "engine": as_dict(params.engine),
                      "iteration": args.iteration}, inputs=inputs)
    write_artifact(frame, args.out, "prompts", fp)
    tried = sum(reasons.values())
    write_metrics(args.metrics, {
        "generated": tried, "kept": frame.height,
        "keep_rate": round(frame.height / tried, 4) if tried else None,
        "dropped": {k: v for k, v in sorted(reasons.items()) if k != "kept"},
        "mean_words": round(frame["prompt"].str.split(" ").list.len().mean(), 2)
        if frame.height else None,
    })
    log.info("%s: kept %d of %d generated prompts; dropped %s", args.iteration, frame.height,
             tried, {k: v for k, v in reasons.items() if k != "kept"})
    if frame.height == 0:
        raise SrlmError(f"{args.out}: no prompt passed the filters ({args.metrics} counts why); "
                        "raise prompts.n_generate or relax the filters")


if __name__ == "__main__":
    run_stage(main)
