"""A model's greedy answers to the evaluation prompts, built shard by shard (`AnswerTask`)."""

from __future__ import annotations

import polars as pl

from srlm.runtime.requests import user_request
from srlm.runtime.workers import ShardTask


class AnswerTask(ShardTask):
    """A shard of `(prompt_id, source, prompt)` rows -> their `answers` rows: greedy, at most
    `max_new_tokens`, by the model of `recipe`."""

    def __init__(self, recipe, max_new_tokens: int):
        super().__init__(recipe)
        self.max_new_tokens = max_new_tokens

    def build(self, rows) -> pl.DataFrame:
        requests = [
            user_request(pid, prompt, max_new_tokens=self.max_new_tokens) for pid, _, prompt in rows
        ]
        completions = self.generator.generate(requests)
        return pl.DataFrame(
            {
                "prompt_id": [pid for pid, _, _ in rows],
                "source": [source for _, source, _ in rows],
                "response": [c.text for c in completions],
                "model": [self.recipe.model] * len(rows),
                "n_tokens": [c.n_tokens for c in completions],
                "finish_reason": [c.finish_reason for c in completions],
            },
            schema={
                "prompt_id": pl.Utf8,
                "source": pl.Utf8,
                "response": pl.Utf8,
                "model": pl.Utf8,
                "n_tokens": pl.Int64,
                "finish_reason": pl.Utf8,
            },
        )
