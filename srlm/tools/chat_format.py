"""Artifacts in chat format, as TRL expects them (used by `srlm export`)."""

from __future__ import annotations

import polars as pl


def preference_frame(pairs: pl.DataFrame) -> pl.DataFrame:
    """Pairs in TRL's conversational preference format (prompt / chosen / rejected as message
    lists), other columns kept alongside."""

    def messages(role: str, column: str) -> pl.Expr:
        return pl.concat_list(pl.struct(role=pl.lit(role), content=pl.col(column)))

    return pairs.with_columns(
        prompt=messages("user", "prompt"),
        chosen=messages("assistant", "chosen"),
        rejected=messages("assistant", "rejected"),
    )
