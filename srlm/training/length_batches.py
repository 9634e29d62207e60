"""Batches of similar length: the sampler both trainers use under `group_by_length`, and the
token counts of DPO pairs it sorts by.
"""

from __future__ import annotations

import torch


def grouped_by_length(args, lengths: list[int]) -> LengthBuckets:
    """The sampler of a `group_by_length` run: `LengthBuckets` of one optimizer step's
    examples over all processes, so that N launched processes take the steps one takes
    (accelerate hands process i the loader's batches i, i + N, ...)."""
    return LengthBuckets(
        lengths, args.train_batch_size * args.gradient_accumulation_steps * args.world_size
    )


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


def pair_token_counts(dataset) -> list[tuple[int, int, int]]:
    """(prompt, chosen, rejected) token counts of each tokenized DPO pair."""
    return [
        (len(prompt), len(chosen), len(rejected))
        for prompt, chosen, rejected in zip(
            dataset["prompt_ids"], dataset["chosen_ids"], dataset["rejected_ids"], strict=True
        )
    ]


def pair_lengths(dataset) -> list[int]:
    """Each tokenized pair's padded length: prompt + the longer of its two answers."""
    return [
        prompt + max(chosen, rejected) for prompt, chosen, rejected in pair_token_counts(dataset)
    ]
