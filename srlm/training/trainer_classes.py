"""TRL's trainers with the completion losses of `srlm.training.completion_loss`.

- `sft_trainer_class()`: TRL's SFTTrainer with `completion_loss`;
- `dpo_trainer_class()`: TRL's DPOTrainer with `use_completion_head` in place of TRL's fused
  LM head (same per-token log-probabilities and metrics).
Both batch examples of similar length together when `train_sampling_strategy` is
`group_by_length` (`srlm.training.length_batches`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from srlm.training.completion_loss import completion_loss, use_completion_head
from srlm.training.length_batches import grouped_by_length, pair_lengths

if TYPE_CHECKING:
    from peft import PeftModel


def sft_trainer_class():
    """TRL's SFTTrainer with `completion_loss` (same loss, no per-token entropy metrics)."""
    from trl import SFTTrainer

    class CompletionSFTTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = completion_loss(model, inputs, num_items_in_batch)
            if num_items_in_batch is not None and self.args.average_tokens_across_devices:
                # the count is over all processes and DDP averages their gradients: scale
                # back up, as Trainer.compute_loss does, so N processes take one's step
                loss = loss * self.accelerator.num_processes
            return (loss, None) if return_outputs else loss

        def _get_train_sampler(self, train_dataset=None):
            if self.args.train_sampling_strategy != "group_by_length":
                return super()._get_train_sampler(train_dataset)
            # a datasets.Dataset: Trainer types it as torch's Dataset, which has no columns
            dataset: Any = self.train_dataset if train_dataset is None else train_dataset
            return grouped_by_length(self.args, [len(ids) for ids in dataset["input_ids"]])

    return CompletionSFTTrainer


def dpo_trainer_class():
    """TRL's DPOTrainer whose models score the answer positions only (`use_completion_head`)."""
    from accelerate.utils import is_peft_model
    from trl import DPOTrainer

    class CompletionDPOTrainer(DPOTrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            # where TRL put its fused head: the base model under a peft wrapper
            use_completion_head(
                cast("PeftModel", self.model).get_base_model()
                if is_peft_model(self.model)
                else self.model,
                log_sum_sq=self.use_weighting,
            )
            if self.ref_model is not None:
                use_completion_head(self.ref_model)

        def _get_train_sampler(self, train_dataset=None):
            # Trainer's length grouping looks for `input_ids`, which a DPO dataset lacks; a
            # pair's padded length is its prompt plus its longer answer (both rows of a pair
            # are padded alike). Random pairs in a batch of 4 wasted ~40% of a step on padding.
            if self.args.train_sampling_strategy != "group_by_length":
                return super()._get_train_sampler(train_dataset)
            dataset = self.train_dataset if train_dataset is None else train_dataset
            return grouped_by_length(self.args, pair_lengths(dataset))

    return CompletionDPOTrainer
