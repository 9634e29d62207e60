"""What SFT and DPO share (srlm.training.trainers): TRL's arguments from our params groups,
the LoRA config, loading a model to train, training and saving it as a plain safetensors
model (adapters merged, sharded weights gathered), and the log of every training step that
becomes the DVC loss plot.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import TYPE_CHECKING

from transformers import TrainerCallback

from srlm.core.errors import SrlmError
from srlm.core.hardware import device
from srlm.core.model_dirs import load_model_and_tokenizer
from srlm.training.launch import per_process_batch, world_size

if TYPE_CHECKING:
    from transformers.trainer_utils import TrainOutput

SFT_LOG_FIELDS = ("loss", "learning_rate", "grad_norm")
DPO_LOG_FIELDS = (
    "loss",
    "learning_rate",
    "grad_norm",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracies",
    "rewards/margins",
)


class LossLog(TrainerCallback):
    """Keeps every logged training step (`fields` of the trainer's logs) for the DVC plot."""

    def __init__(self, fields: tuple[str, ...] = SFT_LOG_FIELDS):
        self.fields = fields
        self.rows: list[dict] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            row = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4)}
            row.update({name.replace("/", "_"): logs.get(name) for name in self.fields})
            self.rows.append(row)

    def write_csv(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fields = ["step", "epoch", *(name.replace("/", "_") for name in self.fields)]
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(self.rows)


def peft_config(lora):
    """A peft LoraConfig from our `LoraParams`, or None when LoRA is off."""
    if not lora.enabled:
        return None
    from peft import LoraConfig as PeftLoraConfig

    return PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )


def common_training_args(cfg, precision: str, work_dir: str) -> dict:
    """TrainingArguments shared by SFT and DPO: no checkpoints, no hub, no reporters. Under
    `accelerate launch` the global batch of params is shared by the processes."""
    batch_size, grad_accum = per_process_batch(
        cfg.batch_size, cfg.grad_accum, world_size(), cfg._group
    )
    return {
        "output_dir": work_dir,
        "num_train_epochs": cfg.epochs,
        "learning_rate": cfg.learning_rate,
        "lr_scheduler_type": cfg.lr_scheduler,
        "per_device_train_batch_size": batch_size,
        "gradient_accumulation_steps": grad_accum,
        "logging_steps": cfg.logging_steps,
        "seed": cfg.random_seed,
        "data_seed": cfg.random_seed,
        "bf16": precision == "bf16",
        # On a CPU, Trainer refuses bf16 autocast unless told it is a CPU run.
        "use_cpu": device() == "cpu",
        "save_strategy": "no",
        "report_to": "none",
        "dataloader_num_workers": 0,
        "disable_tqdm": False,
    }


def load_for_training(base_dir: str | Path):
    """(model, tokenizer) to train from `base_dir`: fp32 master weights, a pad token set."""
    model, tokenizer = load_model_and_tokenizer(base_dir)  # ModelLoadError names the cause
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def train_and_save(trainer, out_dir: str | Path | None) -> tuple[TrainOutput, float]:
    """Run `trainer`, save the plain model to `out_dir` (None: a process that writes nothing);
    (train result, seconds)."""
    if is_sharded(trainer.accelerator) and hasattr(trainer.model, "merge_and_unload"):
        raise SrlmError(
            "lora.enabled with FSDP or ZeRO-3 (accelerate.config_file) is not "
            "supported: use accelerate/ddp.yaml or turn LoRA off"
        )
    started = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - started
    save_plain_model(trainer, out_dir)
    return result, seconds


def is_sharded(accelerator) -> bool:
    """Whether the weights are split over processes (FSDP, DeepSpeed ZeRO)."""
    return accelerator.distributed_type.name in ("FSDP", "DEEPSPEED")


def save_plain_model(trainer, out_dir: str | Path | None) -> None:
    """Save the trained model without adapters, plus its tokenizer, as safetensors.

    Every process must call it: sharded weights are gathered first (a collective); only the
    process given an `out_dir` writes.
    """
    accelerator = trainer.accelerator
    state_dict = (
        accelerator.get_state_dict(trainer.model_wrapped) if is_sharded(accelerator) else None
    )
    if out_dir is None:
        return
    model = accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(out_dir, state_dict=state_dict, safe_serialization=True)
    trainer.processing_class.save_pretrained(out_dir)
