"""Benchmark: SFT and DPO training tokens/s on the default profile's real data.

    python bench/training.py                          # sft and dpo, bf16 / fp32 / bf16+LoRA
    python bench/training.py --runs dpo:bf16 --repeats 3

SFT trains M0 on the first `--sft-examples` of the seed sets (IFT + EFT, as the `sft` stage
does); DPO trains M1 on the pairs of `--pairs` (both iterations' by default), each run with
the stage's own code (`train_sft`, `train_dpo`) and the default params apart from precision
and LoRA. Each run is its own process (one at a time: two would fight over the cores) and
reports the tokens it trained on (every prompt + answer token of an epoch; DPO: chosen and
rejected sequences both), the seconds `trainer.train()` took (DPO's reference log-probs
included), the mean and last losses (the same data and seed give the same losses at any
speed) and the peak memory. Variants: `bf16` (autocast), `fp32`, `lora` (bf16 + LoRA), and
`trl` / `trl-fp32`: TRL's stock SFTTrainer / DPOTrainer, the baseline the others improve on.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile

from measure import ROOT, report, run_child

DEFAULT_RUNS = "sft:trl,sft:bf16,sft:fp32,sft:lora,dpo:trl,dpo:bf16,dpo:fp32,dpo:lora"


def run_one(args) -> dict:
    """Train once as `args.run` says (`sft|dpo` : `bf16|fp32|lora`), in this process."""
    import polars as pl

    from srlm.core.artifacts import read_artifact
    from srlm.core.params import load_params
    from srlm.training.trainers import train_dpo, train_sft

    kind, variant = args.run.split(":")
    if variant.startswith("trl"):  # the baseline: TRL's own trainer, scoring every position
        import trl

        from srlm.training import trainers

        class StockDPOTrainer(trl.DPOTrainer):
            def _get_train_sampler(self, train_dataset=None):  # it cannot group DPO pairs
                self.args.train_sampling_strategy = "random"
                return super()._get_train_sampler(train_dataset)

        trainers.sft_trainer_class = lambda: trl.SFTTrainer
        trainers.dpo_trainer_class = lambda: StockDPOTrainer
    params = load_params(ROOT / "params.yaml")
    cfg = params.sft if kind == "sft" else params.dpo
    cfg = dataclasses.replace(
        cfg,
        precision="fp32" if variant.endswith("fp32") else "bf16",
        lora=dataclasses.replace(cfg.lora, enabled=variant == "lora"),
    )
    with tempfile.TemporaryDirectory(prefix="srlm-bench-") as out:
        if kind == "sft":
            ift = read_artifact(ROOT / "data/seed/ift", "seed_ift")
            eft = read_artifact(ROOT / "data/seed/eft", "seed_eft")
            n_ift = min(ift.height, args.sft_examples * ift.height // (ift.height + eft.height))
            metrics = train_sft(
                args.base, ift.head(n_ift), eft.head(args.sft_examples - n_ift), cfg, out
            )
        else:
            pairs = pl.concat([read_artifact(ROOT / p, "pairs") for p in args.pairs.split(",")])
            metrics = train_dpo(args.policy, pairs, cfg, out)
    return {
        "run": args.run,
        "examples": metrics.get("examples", metrics.get("pairs")),
        "steps": metrics["steps"],
        "train_tokens": metrics["train_tokens"],
        "seconds": metrics["seconds"],
        "tokens_per_s": metrics["tokens_per_second"],
        "train_loss": metrics["train_loss"],
        "last_loss": round(metrics["last_loss"], 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=DEFAULT_RUNS, help="comma-separated kind:variant")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # set in the child process
    parser.add_argument("--base", default="data/models/m0", help="SFT's starting model")
    parser.add_argument("--policy", default="data/models/m1", help="DPO's starting model")
    parser.add_argument("--pairs", default="data/m2/pairs,data/m3/pairs")
    parser.add_argument("--sft-examples", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    if args.run:
        report(run_one(args))
        return
    results = []
    for run in args.runs.split(","):
        for _ in range(args.repeats):
            results.append(
                run_child(
                    [
                        "bench/training.py",
                        "--run",
                        run,
                        "--base",
                        args.base,
                        "--policy",
                        args.policy,
                        "--pairs",
                        args.pairs,
                        "--sft-examples",
                        str(args.sft_examples),
                    ]
                )
            )
            print(results[-1], flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
