"""Stage `dpo@<iter>`: DPO on the iteration's pairs, from its base model -> the next model.

    python stages/dpo.py --params params.yaml --base data/models/m1 --pairs data/m2/pairs \
        --out data/models/m2 --metrics metrics/m2/dpo.json --log metrics/m2/dpo_log.csv
"""

import sys

from srlm.core.console import run_stage
from srlm.core.errors import SrlmError
from srlm.core.model_dirs import check_loadable
from srlm.core.stage import StageSpec, artifact, model
from srlm.training.launch import main_process_output, relaunch

SPEC = StageSpec(
    name="dpo",
    doc=__doc__,
    inputs={"base": model("policy start and reference model"), "pairs": artifact("pairs")},
    # `accelerate` is read too, but never a dependency: it changes the speed, not the model
    params=("dpo",),
    outputs={"out": model("model directory to write")},
    metrics=("metrics",),
    plots=("log",),
)


def main() -> None:
    stage = SPEC.start()
    pairs = stage.read("pairs")
    if pairs.height == 0:
        raise SrlmError(
            f"{stage.path('pairs')}: no preference pairs to train on (see its pairs metrics)"
        )
    check_loadable(stage.path("base"))  # before the slow import of torch, transformers and TRL
    # accelerate.processes > 1: this stage again, under accelerate launch
    if relaunch(stage.params.accelerate, __file__, sys.argv[1:], stage.params.dpo, "dpo"):
        return
    from srlm.training.trainers import train_dpo

    with main_process_output(stage.path("out"), "dpo") as tmp:  # None but in the main process
        metrics = train_dpo(
            stage.path("base"),
            pairs,
            stage.params.dpo,
            tmp,
            log_csv=stage.path("log") if tmp else None,
        )
    if tmp is not None:
        stage.write_metrics(metrics)


if __name__ == "__main__":
    run_stage(main)
