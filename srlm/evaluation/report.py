"""One table across models from the pipeline's metrics files, and the data behind its plots.

`collect(metrics_dir, models)` reads `metrics/<model>/*.json` (missing files give empty
cells, so a half-built pipeline still reports what it has); `markdown(rows, ...)` renders the
tables, IFEval first (srlm/evaluation/ifeval_report.py: what a 135M model's judge cannot
blur); `plot_frames(...)` gives the long-format CSVs that dvc.yaml's `plots` draw.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from srlm.evaluation.ifeval_report import (
    ifeval_comparisons,
    ifeval_frame,
    ifeval_markdown,
    model_bases,
    read_prompt_tables,
)
from srlm.evaluation.report_inputs import MODES, MONITOR_KEYS, load_metrics

JUDGE_COLUMNS = [  # (header, key in a scoring mode's reward-model metrics)
    ("parsed %", "parse_rate"),
    ("pairwise acc %", "pairwise_accuracy"),
    ("ties %", "tie_rate"),
    ("Spearman", "spearman"),
    ("Kendall τ", "kendall_tau"),
    ("5-best %", "five_best"),
    ("exact match %", "exact_match"),
    ("groups", "n_groups"),
    ("pairs", "n_pairs"),
]
# (header, file, key path) for the instruction-following table; more keys = a/b/c counts.
FOLLOW_COLUMNS = [
    ("vs reference win %", "reference", ("win_rate",)),
    ("vs reference W/T/L", "reference", ("wins", "ties", "losses")),
    ("vs reference soft win %", "reference", ("soft_win_rate",)),
    ("vs reference flips %", "reference", ("flip_rate",)),
    ("vs base win %", "h2h", ("win_rate",)),
    ("vs base W/T/L", "h2h", ("wins", "ties", "losses")),
    ("vs base soft win %", "h2h", ("soft_win_rate",)),
    ("judge acc − base's %", "h2h", ("judge", "sampled", "pairwise_accuracy_diff")),
    ("answer chars", "answers", ("mean_chars",)),
    ("DPO pairs", "pairs", ("pairs",)),
    ("pair yield %", "pairs", ("yield",)),
    ("loop judge parse %", "judgments", ("parse_rate",)),
]
# Every metrics file the report reads (the judge table reads `judge.json`).
FILES = ("ifeval", "judge", "monitors", *dict.fromkeys(file for _, file, _ in FOLLOW_COLUMNS))
WIN_KEYS = ("win_rate", "tie_rate", "loss_rate", "soft_win_rate", "flip_rate")
REWARD_KEYS = (
    "pairwise_accuracy",
    "tie_rate",
    "spearman",
    "kendall_tau",
    "five_best",
    "exact_match",
    "parse_rate",
)


def collect(metrics_dir: str | Path, models: list[str]) -> list[dict]:
    """Per model: the metrics files of `metrics/<model>/` that the report uses, by stem."""
    root = Path(metrics_dir)
    return [
        {"model": m, **{f: load_metrics(root / m / f"{f}.json") for f in FILES}} for m in models
    ]


def _format(header: str, value) -> str:
    if value is None:
        return "–"
    if header.endswith("%"):
        return f"{100 * value:.1f}"
    if header.endswith("chars"):
        return f"{value:.0f}"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _cell(header: str, data: dict | None, path: tuple[str, ...]) -> str:
    """A value of a metrics dict (a key path), with its `<key>_ci95` interval when there."""
    *parents, key = path
    for name in parents:
        data = (data or {}).get(name)
    if not data:
        return "–"
    text = _format(header, data.get(key))
    interval = data.get(f"{key}_ci95")
    if interval and text != "–":
        text += " [" + ", ".join(_format(header, v) for v in interval) + "]"
    return text


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|---|" + "---:|" * (len(headers) - 1)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def comparisons(metrics_dir: str | Path, models: list[str], iterations: dict) -> dict:
    """The paired IFEval differences of each model against its base and against m0
    (`ifeval_report.ifeval_comparisons`), from the per-prompt tables under `metrics_dir`."""
    return ifeval_comparisons(read_prompt_tables(metrics_dir, models), model_bases(iterations))


def markdown(
    rows: list[dict], charts: dict[str, str] | None = None, paired: dict | None = None
) -> str:
    """The report as GitHub markdown: IFEval per model with the `paired` differences
    (`comparisons`), judge quality per model and scoring mode, then model-judged instruction
    following per model; `charts` (title -> image path relative to the report) are embedded
    at the end."""
    judge_rows = []
    for row in rows:
        for mode in MODES:
            data = (row.get("judge") or {}).get(mode)
            if data is None:
                continue
            judge_rows.append(
                [row["model"], mode] + [_cell(h, data, (k,)) for h, k in JUDGE_COLUMNS]
            )
    follow_rows = []
    for row in rows:
        cells = []
        for header, file, keys in FOLLOW_COLUMNS:
            data = row.get(file)
            if data is None:
                cells.append("–")
            elif header.endswith("W/T/L"):
                cells.append("/".join(str(data.get(k, "–")) for k in keys))
            else:
                cells.append(_cell(header, data, keys))
        follow_rows.append([row["model"]] + cells)
    evaluators = sorted(
        {
            r[f]["evaluator"]
            for r in rows
            for f in ("reference", "h2h")
            if r.get(f) and r[f].get("evaluator")
        }
    )
    opponents = sorted({r["reference"]["opponent"] for r in rows if r.get("reference")})
    lines = [
        *ifeval_markdown(rows, paired or {}),
        "### Judge vs human rankings (`evaluate_judge@<model>` on `data/seed/eft_eval`)",
        "",
        *_table(["model", "scoring"] + [h for h, _ in JUDGE_COLUMNS], judge_rows),
        "",
        "A judge tie or an unparsed score counts as a miss in pairwise accuracy. "
        "[lo, hi]: 95% bootstrap interval over prompts.",
        "",
        "### Instruction following",
        "",
        *_table(["model"] + [h for h, _, _ in FOLLOW_COLUMNS], follow_rows),
        "",
        "Win rates: the fixed evaluator judges each pair in both orders; an inconsistent "
        "verdict is a tie. Soft win: its probability that the model's answer is better, "
        "averaged over both orders (a bias for one position cancels); flips: the share of "
        "comparisons whose verdict changes with the order. Judge acc − base's: pairwise "
        "accuracy (sampled scoring) minus the base model's on the same pairs. [lo, hi]: 95% "
        "bootstrap interval over prompts. DPO pairs, pair yield and loop judge parse describe "
        "the iteration data that trained the model (none for m0, m1).",
        f"Evaluator: {', '.join(evaluators) or '–'}. Reference: {', '.join(opponents) or '–'}.",
    ]
    monitor_rows = [
        [row["model"]] + [_format("", row["monitors"].get(k)) for k in MONITOR_KEYS]
        for row in rows
        if row.get("monitors")
    ]
    if monitor_rows:
        lines += [
            "",
            "### Loop monitors (`monitors@<iteration>`)",
            "",
            *_table(["iteration", *MONITOR_KEYS], monitor_rows),
            "",
            "Top score share and pair yield near 1, a shrinking score gap, a growing "
            "length ratio or a falling judge consistency are the loop's known failure "
            "modes (srlm/evaluation/monitors.py).",
        ]
    if charts:
        lines += ["", "### Charts", ""] + [f"![{title}]({path})" for title, path in charts.items()]
    return "\n".join(lines) + "\n"


def plot_frames(rows: list[dict]) -> dict[str, pl.DataFrame]:
    """Long-format tables for `dvc plots`: IFEval accuracies, reward-model metrics, win rates,
    monitors, score histograms."""
    reward, wins, scores, monitors = [], [], [], []
    for row in rows:
        judge = row.get("judge") or {}
        for mode in MODES:
            if judge.get(mode):
                low, high = judge[mode].get("pairwise_accuracy_ci95") or (None, None)
                reward.append(
                    {
                        "model": f"{row['model']} {mode}",
                        **{k: judge[mode].get(k) for k in REWARD_KEYS},
                        "pairwise_accuracy_lo": low,
                        "pairwise_accuracy_hi": high,
                    }
                )
            for score, count in judge.get("samples", {}).get("score_histogram", {}).items():
                scores.append(
                    {
                        "model": row["model"],
                        "stage": "evaluate_judge",
                        "score": score,
                        "count": count,
                    }
                )
        for file, kind in (("reference", "reference"), ("h2h", "vs_base")):
            data = row.get(file)
            if data:
                low, high = data.get("soft_win_rate_ci95") or (None, None)
                wins.append(
                    {
                        "model": row["model"],
                        "comparison": kind,
                        **{k: data.get(k) for k in WIN_KEYS},
                        "soft_win_rate_lo": low,
                        "soft_win_rate_hi": high,
                    }
                )
        if row.get("monitors"):
            monitors.append(
                {"model": row["model"], **{k: row["monitors"].get(k) for k in MONITOR_KEYS}}
            )
        for score, count in (row.get("judgments") or {}).get("score_histogram", {}).items():
            scores.append(
                {"model": row["model"], "stage": "judgments", "score": score, "count": count}
            )
    return {
        "ifeval": ifeval_frame(rows),
        "reward_model": pl.DataFrame(
            reward,
            schema={
                "model": pl.Utf8,
                **{k: pl.Float64 for k in REWARD_KEYS},
                "pairwise_accuracy_lo": pl.Float64,
                "pairwise_accuracy_hi": pl.Float64,
            },
        ),
        "win_rates": pl.DataFrame(
            wins,
            schema={
                "model": pl.Utf8,
                "comparison": pl.Utf8,
                **{k: pl.Float64 for k in WIN_KEYS},
                "soft_win_rate_lo": pl.Float64,
                "soft_win_rate_hi": pl.Float64,
            },
        ),
        "monitors": pl.DataFrame(
            monitors, schema={"model": pl.Utf8, **{k: pl.Float64 for k in MONITOR_KEYS}}
        ),
        "judge_scores": pl.DataFrame(
            scores, schema={"model": pl.Utf8, "stage": pl.Utf8, "score": pl.Utf8, "count": pl.Int64}
        ),
    }
