"""Training glue: our params groups -> TRL configs, train, save a plain safetensors model.

`train_sft(base_dir, ift, eft, cfg, out_dir)` fine-tunes M0 on IFT + EFT as one
prompt-completion conversational dataset, so TRL computes the loss on the answers only
(the judge prompt and the user's instruction are context, not targets). LoRA adapters, when
enabled, are merged before saving: every model directory srlm writes is a plain model that
the next stage (or vLLM) loads without peft.
"""

from __future__ import annotations

import csv
import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from transformers import TrainerCallback

from srlm.core.errors import SrlmError
from srlm.core.hardware import device, resolve_precision
from srlm.core.model_dirs import load_model_and_tokenizer
from srlm.training.launch import per_process_batch, shared_dataset, world_size
from srlm.training.length_batches import pair_token_counts
from srlm.training.trainer_classes import dpo_trainer_class, sft_trainer_class

if TYPE_CHECKING:
    from transformers.trainer_utils import TrainOutput

log = logging.getLogger(__name__)


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


def sft_records(ift: pl.DataFrame, eft: pl.DataFrame) -> list[dict]:
    """IFT (prompt -> response) and EFT (judge prompt -> justification + score) as chat pairs."""

    def pair(prompt: str, completion: str) -> dict:
        return {
            "prompt": [{"role": "user", "content": prompt}],
            "completion": [{"role": "assistant", "content": completion}],
        }

    records = [pair(p, r) for p, r in ift.select("prompt", "response").iter_rows()]
    records += [pair(p, t) for p, t in eft.select("judge_input", "judge_target").iter_rows()]
    return records


def fit_length(records: list[dict], tokenizer, max_length: int) -> tuple[list[dict], int]:
    """Records whose whole chat fits in `max_length` tokens, and how many were dropped.

    TRL would cut longer ones from the end, which removes a judge target's `Score:` line and
    teaches the judge to stop before scoring; dropping them (counted) is the honest choice.
    """
    kept = []
    for record in records:
        ids = tokenizer.apply_chat_template(
            record["prompt"] + record["completion"], tokenize=True, return_dict=True
        )["input_ids"]
        if len(ids) <= max_length:
            kept.append(record)
    return kept, len(records) - len(kept)


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


def train_sft(
    base_dir: str | Path,
    ift: pl.DataFrame,
    eft: pl.DataFrame,
    cfg,
    out_dir: str | Path | None,
    loss_csv: str | Path | None = None,
) -> dict:
    """SFT of the model in `base_dir` on IFT + EFT (`cfg`: `SFTParams`); returns metrics.
    `out_dir` None: a launched process other than the main one (it trains, writes nothing)."""
    import datasets
    from trl import SFTConfig

    precision = resolve_precision(cfg.precision)
    model, tokenizer = load_for_training(base_dir)
    records, too_long = fit_length(sft_records(ift, eft), tokenizer, cfg.max_length)
    if not records:
        raise SrlmError(f"sft: every example is longer than sft.max_length={cfg.max_length}")
    dataset = datasets.Dataset.from_list(records)
    losses = LossLog()
    with tempfile.TemporaryDirectory(prefix="srlm-sft-") as work:
        args = SFTConfig(
            **common_training_args(cfg, precision, work),
            max_length=cfg.max_length,
            completion_only_loss=True,
            # Similar lengths share a batch: IFT answers are short, judge prompts long, and
            # padding a short example to a judge prompt's length wastes most of a CPU step.
            train_sampling_strategy="group_by_length",
            packing=False,
            # 135M parameters fit easily; recomputing activations only costs time here.
            gradient_checkpointing=False,
        )
        trainer = sft_trainer_class()(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=peft_config(cfg.lora),
            callbacks=[losses],
        )
        tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
        result, seconds = train_and_save(trainer, out_dir)
    if loss_csv is not None:
        losses.write_csv(loss_csv)
    trained_tokens = tokens * cfg.epochs
    return {
        "examples": len(dataset),
        "ift_examples": ift.height,
        "eft_examples": eft.height,
        "dropped_too_long": too_long,
        "precision": precision,
        "lora": cfg.lora.enabled,
        "train_loss": round(result.training_loss, 4),
        "first_loss": losses.rows[0]["loss"] if losses.rows else None,
        "last_loss": losses.rows[-1]["loss"] if losses.rows else None,
        "steps": result.global_step,
        "train_tokens": int(trained_tokens),
        "seconds": round(seconds, 1),
        "tokens_per_second": round(trained_tokens / seconds, 1) if seconds else None,
    }


def dpo_records(pairs: pl.DataFrame) -> list[dict]:
    """Pairs as TRL's conversational preference format (prompt / chosen / rejected)."""
    return [
        {
            "prompt": [{"role": "user", "content": prompt}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
        }
        for prompt, chosen, rejected in pairs.select("prompt", "chosen", "rejected").iter_rows()
    ]


def train_dpo(
    base_dir: str | Path,
    pairs: pl.DataFrame,
    cfg,
    out_dir: str | Path | None,
    log_csv: str | Path | None = None,
) -> dict:
    """DPO of the model in `base_dir` on `pairs` (`cfg`: `DPOParams`); returns metrics.

    The base model is both the starting policy and the frozen reference (its log-probs are
    computed once up front). Dropout stays on, as in the paper's recipe.
    """
    from trl import DPOConfig

    precision = resolve_precision(cfg.precision)
    model, tokenizer = load_for_training(base_dir)
    log = LossLog(DPO_LOG_FIELDS)
    with tempfile.TemporaryDirectory(prefix="srlm-dpo-") as work:
        args = DPOConfig(
            **common_training_args(cfg, precision, work),
            beta=cfg.beta,
            max_length=cfg.max_length,
            precompute_ref_log_probs=True,
            disable_dropout=False,
            train_sampling_strategy="group_by_length",  # padding is most of a random batch
            gradient_checkpointing=False,
        )
        _ = args.device  # starts the process group under `accelerate launch`
        dataset = shared_dataset(dpo_records(pairs))
        trainer = dpo_trainer_class()(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=peft_config(cfg.lora),
            callbacks=[log],
        )
        tokens = dpo_tokens(trainer.train_dataset, cfg.max_length) * cfg.epochs
        result, seconds = train_and_save(trainer, out_dir)
    if log_csv is not None:
        log.write_csv(log_csv)
    last = log.rows[-1] if log.rows else {}
    return {
        "pairs": pairs.height,
        "precision": precision,
        "lora": cfg.lora.enabled,
        "beta": cfg.beta,
        "train_loss": round(result.training_loss, 4),
        "first_loss": log.rows[0]["loss"] if log.rows else None,
        "last_loss": last.get("loss"),
        "last_reward_margin": last.get("rewards_margins"),
        "last_reward_accuracy": last.get("rewards_accuracies"),
        "steps": result.global_step,
        "train_tokens": int(tokens),
        "seconds": round(seconds, 1),
        "tokens_per_second": round(tokens / seconds, 1) if seconds else None,
    }


def dpo_tokens(dataset, max_length: int | None) -> int:
    """Tokens DPO trains on in one epoch: prompt + chosen and prompt + rejected, each cut to
    `max_length` as TRL's collator cuts them."""
    return sum(
        min(prompt + answer, max_length or prompt + answer)
        for prompt, chosen, rejected in pair_token_counts(dataset)
        for answer in (chosen, rejected)
    )
