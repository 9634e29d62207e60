"""Stage `base`: import the base model M0 as safetensors + tokenizer + chat template.

python stages/base.py --params params.yaml --out data/models/m0 --metrics metrics/base.json
"""

from srlm.core.console import run_stage
from srlm.core.model_identity import model_directory
from srlm.core.stage import StageSpec, model
from srlm.training.base_model import import_base_model

SPEC = StageSpec(
    name="base",
    doc=__doc__,
    inputs={},
    params=("base",),
    outputs={"out": model("model directory to write")},
    metrics=("metrics",),
)


def main() -> None:
    stage = SPEC.start()
    cfg = stage.params.base
    with model_directory(stage.path("out"), "base") as tmp:  # records the folder's hash, once
        summary = import_base_model(cfg.model, tmp, cfg.gguf_file, cfg.revision)
    stage.write_metrics(summary)


if __name__ == "__main__":
    run_stage(main)
