"""Evaluation metrics on frames (no models here: stages hand in generated outputs).

`judge_format_metrics` answers "has the model learned to write a parseable judgment?": the
share of judge outputs whose `Score:` parses, the score histogram, and how close parsed
scores are to the human-derived targets.
"""

from __future__ import annotations

import polars as pl


def score_histogram(scores: pl.Series) -> dict[str, int]:
    """Parsed scores rounded to whole points 0..5 (all keys present), plus `unparsed`."""
    rounded = scores.drop_nulls().round(0).cast(pl.Int64)
    counts = dict(rounded.value_counts().iter_rows()) if rounded.len() else {}
    histogram = {str(s): int(counts.get(s, 0)) for s in range(6)}
    histogram["unparsed"] = int(scores.null_count())
    return histogram


def judge_format_metrics(outputs: pl.DataFrame) -> dict:
    """Parse rate, score histogram and agreement with targets for a `judge_outputs` frame."""
    n = outputs.height
    parsed = outputs.filter(pl.col("score").is_not_null())
    error = (parsed["score"] - parsed["target_score"]).abs()
    return {
        "n": n,
        "parsed": parsed.height,
        "parse_rate": round(parsed.height / n, 4) if n else None,
        "score_histogram": score_histogram(outputs["score"]),
        "mean_score": round(parsed["score"].mean(), 4) if parsed.height else None,
        "mean_abs_error_vs_target": round(error.mean(), 4) if parsed.height else None,
        "exact_match_vs_target": round((error == 0).mean(), 4) if parsed.height else None,
    }
