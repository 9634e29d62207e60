"""Training glue: our params groups -> TRL configs, train, save a plain safetensors model.

`train_sft(base_dir, ift, eft, cfg, out_dir)` fine-tunes M0 on IFT + EFT as one
prompt-completion conversational dataset, so TRL computes the loss on the answers only
(the judge prompt and the user's instruction are context, not targets). LoRA adapters, when
enabled, are merged before saving: every model directory srlm writes is a plain model that
the next stage (or vLLM) loads without peft.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from srlm.core.errors import SrlmError
from srlm.core.hardware import resolve_precision
from srlm.training.launch import shared_dataset
from srlm.training.length_batches import pair_token_counts
from srlm.training.trainer_classes import dpo_trainer_class, sft_trainer_class
from srlm.training.trainer_setup import (
    DPO_LOG_FIELDS,
    LossLog,
    common_training_args,
    load_for_training,
    peft_config,
    train_and_save,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


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
