"""Stage `sft`: M0 + seed IFT + EFT -> M1 (TRL SFTTrainer, loss on the answers only).

    python stages/sft.py --params params.yaml --base data/models/m0 --ift data/seed/ift \
        --eft data/seed/eft --out data/models/m1 --metrics metrics/m1/sft.json \
        --loss metrics/m1/sft_loss.csv
"""

import argparse
import sys

from srlm.core.artifacts import read_artifact, write_metrics
from srlm.core.console import run_stage
from srlm.core.errors import SrlmError
from srlm.core.model_dirs import check_loadable
from srlm.core.params import load_params
from srlm.training.launch import main_process_output, relaunch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--base", required=True, help="model directory to start from (M0)")
    parser.add_argument("--ift", required=True)
    parser.add_argument("--eft", required=True)
    parser.add_argument("--out", required=True, help="model directory to write (M1)")
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--loss", required=True, help="CSV of the loss per logged step")
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = params.sft
    ift = read_artifact(args.ift, "seed_ift")
    eft = read_artifact(args.eft, "seed_eft")
    if ift.is_empty() and eft.is_empty():
        raise SrlmError(f"sft: {args.ift} and {args.eft} are both empty: nothing to train on "
                        "(see metrics/seed.json)")
    check_loadable(args.base)  # before the slow import of torch, transformers and TRL
    if relaunch(params.accelerate, __file__, sys.argv[1:]):  # accelerate.processes > 1
        return
    from srlm.training.trainers import train_sft

    with main_process_output(args.out, "sft") as tmp:  # None but in the main process
        metrics = train_sft(args.base, ift, eft, cfg, tmp, loss_csv=args.loss if tmp else None)
    if tmp is not None:
        write_metrics(args.metrics, metrics)


if __name__ == "__main__":
    run_stage(main)
