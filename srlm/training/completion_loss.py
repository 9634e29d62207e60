"""Training losses computed on the labelled (answer) positions alone.

TRL projects every position through the 49k-token LM head when Triton is absent (CPUs), and
a batch is mostly context: judge prompts are ~80% of an SFT example, the prompt is shared by
a DPO pair's two sequences. Both trainers here ask the model for the logits of the positions
that some row of the batch labels (`logits_to_keep` as indices) and score only those, through
the model's own forward, so a DDP or FSDP wrapper syncs gradients as usual and a model's own
logit scaling applies. The losses are TRL's, to float tolerance (tests/test_training.py).

- `sft_trainer_class()`: TRL's SFTTrainer with `completion_loss`;
- `dpo_trainer_class()`: TRL's DPOTrainer with `use_completion_head` in place of TRL's fused
  LM head (same per-token log-probabilities and metrics), and pairs of similar length batched
  together when `train_sampling_strategy` is `group_by_length`.
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, Any, cast

import torch

if TYPE_CHECKING:
    from peft import PeftModel


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

        def _get_train_sampler(self, train_dataset=None):
            if self.args.train_sampling_strategy != "group_by_length":
                return super()._get_train_sampler(train_dataset)
            # a datasets.Dataset: Trainer types it as torch's Dataset, which has no columns
            dataset: Any = self.train_dataset if train_dataset is None else train_dataset
            return grouped_by_length(self.args, [len(ids) for ids in dataset["input_ids"]])

    return CompletionSFTTrainer


def grouped_by_length(args, lengths: list[int]) -> LengthBuckets:
    """The sampler of a `group_by_length` run: `LengthBuckets` of one optimizer step's
    examples over all processes, so that N launched processes take the steps one takes
    (accelerate hands process i the loader's batches i, i + N, ...)."""
    return LengthBuckets(lengths, args.train_batch_size * args.gradient_accumulation_steps
                         * args.world_size)


class LengthBuckets(torch.utils.data.Sampler):
    """Examples in batches of similar length, the batches in random order.

    A random permutation is cut into mega-batches of 50 batches, each sorted by length and
    cut into batches; then the full batches are shuffled (the one short batch stays last, so
    the data loader's batches line up with these). Trainer's own length grouping shrinks its
    mega-batches to a quarter of the data, which on small sets groups nothing, and keeps each
    mega-batch in descending length: with one mega-batch that is a curriculum (all judge
    prompts first, all short answers last), which left the default run's M1 scoring 0 almost
    always. Randomness comes from torch's generator, which Trainer seeds.
    """

    def __init__(self, lengths: list[int], batch_size: int, mega_batches: int = 50):
        self.lengths = torch.as_tensor(lengths)
        self.batch_size = batch_size
        self.mega = batch_size * mega_batches

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        batches = []
        for mega in torch.randperm(len(self.lengths)).split(self.mega):
            ordered = mega[torch.argsort(self.lengths[mega], descending=True, stable=True)]
            batches += list(ordered.split(self.batch_size))
        full = [b for b in batches if len(b) == self.batch_size]
        short = [b for b in batches if len(b) < self.batch_size]
        shuffled = [full[i] for i in torch.randperm(len(full))] + short
        return iter(torch.cat(shuffled).tolist() if shuffled else [])


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
        loss=-log_probs.sum() / mask.sum().clamp(min=1), log_probs=log_probs,
        entropy=spread(entropy), mean_logits=spread(mean_logits),
        is_top1=mask.new_zeros(mask.shape).masked_scatter(mask, is_top1),
        log_sum_sq_probs=sum_sq, label_mask=mask)


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


def dpo_trainer_class():
    """TRL's DPOTrainer whose models score the answer positions only (`use_completion_head`)."""
    from accelerate.utils import is_peft_model
    from trl import DPOTrainer

    class CompletionDPOTrainer(DPOTrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            # where TRL put its fused head: the base model under a peft wrapper
            use_completion_head(cast("PeftModel", self.model).get_base_model()
                                if is_peft_model(self.model) else self.model,
                                log_sum_sq=self.use_weighting)
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


def pair_token_counts(dataset) -> list[tuple[int, int, int]]:
    """(prompt, chosen, rejected) token counts of each tokenized DPO pair."""
    return [(len(prompt), len(chosen), len(rejected)) for prompt, chosen, rejected
            in zip(dataset["prompt_ids"], dataset["chosen_ids"], dataset["rejected_ids"],
                   strict=True)]


def pair_lengths(dataset) -> list[int]:
    """Each tokenized pair's padded length: prompt + the longer of its two answers."""
    return [prompt + max(chosen, rejected)
            for prompt, chosen, rejected in pair_token_counts(dataset)]
