"""Stage `base`: import the base model M0 as safetensors + tokenizer + chat template.

    python stages/base.py --params params.yaml --out data/models/m0
"""

import argparse

from srlm.core.artifacts import write_metrics
from srlm.core.console import run_stage
from srlm.core.model_identity import model_directory
from srlm.core.params import load_params
from srlm.training.base_model import import_base_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", required=True, help="model directory to write")
    parser.add_argument("--metrics", help="JSON summary of the imported model")
    args = parser.parse_args()
    cfg = load_params(args.params).base
    with model_directory(args.out, "base") as tmp:  # records the folder's hash, once
        summary = import_base_model(cfg.model, tmp, cfg.gguf_file, cfg.revision)
    if args.metrics:
        write_metrics(args.metrics, summary)


if __name__ == "__main__":
    run_stage(main)
