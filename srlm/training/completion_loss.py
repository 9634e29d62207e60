"""SFT's loss on the answers only, computed on the labelled positions alone.

`sft_trainer_class()` is TRL's SFTTrainer with `completion_loss`: the same loss as TRL's, for
a fraction of the LM-head work on prompt-heavy batches (judge prompts are ~80% context).
"""

from __future__ import annotations

import torch


def completion_loss(model, inputs: dict, num_items_in_batch=None):
    """Mean next-token loss over labelled positions, projecting only those through the LM head.

    TRL's fused LM head scores every position when Triton is absent (CPUs), and judge prompts
    are ~80% context, so most of that work is thrown away. The model is asked for the logits of
    the positions that some row of the batch labels (`logits_to_keep` as indices; batches are
    grouped by length, so that is little more than the completions), which gives the same loss
    for a fraction of the compute. It goes through the model's own forward, so a DDP or FSDP
    wrapper syncs gradients as usual.
    """
    import torch.nn.functional as F

    labels = inputs["labels"][:, 1:]
    mask = labels != -100
    # position t of the model's output predicts label t + 1
    keep = mask.any(dim=0).nonzero().squeeze(1)
    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask"),
                   use_cache=False, logits_to_keep=keep).logits
    kept = mask[:, keep]
    total = F.cross_entropy(logits[kept].float(), labels[:, keep][kept], reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else mask.sum()
    return total / torch.as_tensor(count, device=total.device).clamp(min=1)


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

    return CompletionSFTTrainer
