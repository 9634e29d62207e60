"""Typed means and medians of polars Series, for metrics.

Polars types `Series.mean()` and `.median()` as any Python literal (a date, a string, bytes...)
because a Series may hold any of them. The library only summarises numeric and boolean Series,
whose mean or median is a float, or None when the Series has no non-null value; these say so
in one place, so the arithmetic and rounding of their callers stay type-checked.
"""

from __future__ import annotations

from typing import cast

import polars as pl


def mean(series: pl.Series) -> float | None:
    """The mean of a numeric or boolean `series` (a bool's is the share of True), or None."""
    return cast("float | None", series.mean())


def median(series: pl.Series) -> float | None:
    """The median of a numeric `series`, or None."""
    return cast("float | None", series.median())


def rounded(value: float | None, digits: int = 4) -> float | None:
    """`value` rounded to `digits` decimals; None stays None."""
    return None if value is None else round(value, digits)
