"""Training losses computed on the labelled (answer) positions alone.

TRL projects every position through the 49k-token LM head when Triton is absent (CPUs), and
a batch is mostly context: judge prompts are ~80% of an SFT example, the prompt is shared by
a DPO pair's two sequences. The functions here ask the model for the logits of the positions
that some row of the batch labels (`logits_to_keep` as indices) and score only those, through
the model's own forward, so a DDP or FSDP wrapper syncs gradients as usual and a model's own
logit scaling applies. The losses are TRL's, to float tolerance (tests/test_training.py).

- `completion_loss`: SFT's next-token loss;
- `use_completion_head`: DPO's per-token log-probabilities, in place of TRL's fused LM head
  (same values and metrics). The trainers that use them are in `srlm.training.trainer_classes`.
"""

from __future__ import annotations

import types

import torch


def kept_positions(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(`keep`, `mask`) for labels of shape (batch, seq): `keep` are the output positions
    that predict a label in some row (position t predicts label t + 1), `mask` (batch, seq - 1)
    marks the labelled ones."""
    mask = labels[:, 1:] != -100
    return mask.any(dim=0).nonzero().squeeze(1), mask


def completion_loss(model, inputs: dict, num_items_in_batch=None):
    """Mean next-token loss over labelled positions, projecting only those through the LM head."""
    import torch.nn.functional as F

    labels = inputs["labels"][:, 1:]
    keep, mask = kept_positions(inputs["labels"])
    logits = model(
        input_ids=inputs["input_ids"],
        attention_mask=inputs.get("attention_mask"),
        use_cache=False,
        logits_to_keep=keep,
    ).logits
    kept = mask[:, keep]
    total = F.cross_entropy(logits[kept].float(), labels[:, keep][kept], reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else mask.sum()
    return total / torch.as_tensor(count, device=total.device).clamp(min=1)


def completion_log_probs(forward, labels: torch.Tensor, log_sum_sq: bool = False, **kwargs):
    """TRL's fused-LM-head output (per-token log-probabilities of the next-token labels, zero
    where unlabelled, shape (batch, seq - 1)) from `forward`, the model's own forward, scoring
    the labelled positions only. Entropy, mean logit and top-1 (DPO's metrics) come without
    gradient; `log_sum_sq` adds log(sum p^2), which only WPO weighting reads."""
    from trl.trainer.utils import FusedCausalLMOutput

    keep, mask = kept_positions(labels)
    kwargs["use_cache"] = False
    logits = forward(logits_to_keep=keep, **kwargs).logits[mask[:, keep]].float()
    targets = labels[:, 1:][mask]
    log_softmax = torch.log_softmax(logits, dim=-1)
    picked = log_softmax.gather(1, targets.unsqueeze(1)).squeeze(1)

    def spread(values: torch.Tensor) -> torch.Tensor:
        return values.new_zeros(mask.shape).masked_scatter(mask, values)

    with torch.no_grad():
        entropy = -(log_softmax.exp() * log_softmax).sum(dim=-1)
        mean_logits = logits.mean(dim=-1)
        is_top1 = logits.argmax(dim=-1) == targets
        sum_sq = spread(torch.logsumexp(2 * log_softmax, dim=-1)) if log_sum_sq else None
    log_probs = spread(picked)
    return FusedCausalLMOutput(
        loss=-log_probs.sum() / mask.sum().clamp(min=1),
        log_probs=log_probs,
        entropy=spread(entropy),
        mean_logits=spread(mean_logits),
        is_top1=mask.new_zeros(mask.shape).masked_scatter(mask, is_top1),
        log_sum_sq_probs=sum_sq,
        label_mask=mask,
    )


def use_completion_head(model, log_sum_sq: bool = False) -> None:
    """Make `model(..., labels=..., fused_lm_head=True)` (how TRL's DPOTrainer asks for
    log-probabilities) score the labelled positions only; without `fused_lm_head` the model's
    forward is its own (generation is unchanged). `log_sum_sq`: see `completion_log_probs`."""
    own_forward = type(model).forward.__get__(model)

    def forward(self, *args, fused_lm_head=False, labels=None, **kwargs):
        if not fused_lm_head:
            return own_forward(*args, labels=labels, **kwargs)
        if args:
            kwargs["input_ids"] = args[0]
        return completion_log_probs(own_forward, labels, log_sum_sq, **kwargs)

    model.forward = types.MethodType(forward, model)
