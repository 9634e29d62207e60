"""Stage `sft`: M0 + seed IFT + EFT -> M1 (TRL SFTTrainer, loss on the answers only).

    python stages/sft.py --params params.yaml --base data/models/m0 --ift data/seed/ift \
        --eft data/seed/eft --out data/models/m1 --metrics metrics/m1/sft.json \
        --loss metrics/m1/sft_loss.csv
"""

import sys

from srlm.core.console import run_stage
from srlm.core.errors import SrlmError
from srlm.core.model_dirs import check_loadable
from srlm.core.stage import StageSpec, artifact, model
from srlm.training.launch import main_process_output, relaunch

SPEC = StageSpec(
    name="sft",
    doc=__doc__,
    inputs={
        "base": model("model directory to start from (M0)"),
        "ift": artifact("seed_ift"),
        "eft": artifact("seed_eft"),
    },
    # `accelerate` is read too, but never a dependency: it changes the speed, not the model
    params=("sft",),
    outputs={"out": model("model directory to write (M1)")},
    metrics=("metrics",),
    plots=("loss",),
)


def main() -> None:
    stage = SPEC.start()
    ift, eft = stage.read("ift"), stage.read("eft")
    if ift.is_empty() and eft.is_empty():
        raise SrlmError(
            f"sft: {stage.path('ift')} and {stage.path('eft')} are both empty: "
            "nothing to train on (see metrics/seed.json)"
        )
    check_loadable(stage.path("base"))  # before the slow import of torch, transformers and TRL
    # accelerate.processes > 1: this stage again, under accelerate launch
    if relaunch(stage.params.accelerate, __file__, sys.argv[1:], stage.params.sft, "sft"):
        return
    from srlm.training.trainers import train_sft

    with main_process_output(stage.path("out"), "sft") as tmp:  # None but in the main process
        metrics = train_sft(
            stage.path("base"),
            ift,
            eft,
            stage.params.sft,
            tmp,
            loss_csv=stage.path("loss") if tmp else None,
        )
    if tmp is not None:
        stage.write_metrics(metrics)


if __name__ == "__main__":
    run_stage(main)
