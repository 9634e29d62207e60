"""Stage `dpo@<iter>`: DPO on the iteration's pairs, from its base model -> the next model.

    python stages/dpo.py --params params.yaml --base data/models/m1 --pairs data/m2/pairs \
        --out data/models/m2 --metrics metrics/m2/dpo.json --log metrics/m2/dpo_log.csv
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
    parser.add_argument("--base", required=True, help="policy start and reference model")
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--log", required=True, help="CSV of loss and rewards per step")
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = params.dpo
    pairs = read_artifact(args.pairs, "pairs")
    if pairs.height == 0:
        raise SrlmError(f"{args.pairs}: no preference pairs to train on (see its pairs metrics)")
    check_loadable(args.base)  # before the slow import of torch, transformers and TRL
    if relaunch(params.accelerate, __file__, sys.argv[1:]):  # accelerate.processes > 1
        return
    from srlm.training.trainers import train_dpo

    with main_process_output(args.out, "dpo") as tmp:  # None but in the main process
        metrics = train_dpo(args.base, pairs, cfg, tmp, log_csv=args.log if tmp else None)
    if tmp is not None:
        write_metrics(args.metrics, metrics)


if __name__ == "__main__":
    run_stage(main)
