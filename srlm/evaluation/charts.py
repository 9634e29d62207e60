"""The report's charts as PNG images, so a reader sees them on any git host.

`dvc plots show` draws the same data as Vega charts in a browser (and loads Vega from a CDN);
these PNGs are drawn from the same frames (`report.plot_frames`) with matplotlib and embedded
in `reports/summary.md`. Error bars are the 95% bootstrap intervals of the metrics files.
Saved without metadata, so the same numbers give the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

CHARTS = {
    "ifeval.png": "IFEval accuracy (strict), 95% intervals",
    "reward_model.png": "Judge vs human ranks: pairwise accuracy",
    "win_rates.png": "Soft win rate (evaluator's preference for the model, both orders)",
    "judge_scores.png": "Judge score histograms",
}


def _bars(
    ax,
    frame: pl.DataFrame,
    labels: list[str],
    key: str,
    offset: float = 0.0,
    width: float = 0.8,
    colour: str = "#4c72b0",
    label: str | None = None,
    chance: float | None = 0.5,
) -> None:
    """Bars of column `key` with error bars from `<key>_lo` / `<key>_hi` where present;
    `offset`/`width` place several series side by side; a dashed line at `chance`."""
    heights = [v if v is not None else 0.0 for v in frame[key].to_list()]
    los, his = frame[f"{key}_lo"].to_list(), frame[f"{key}_hi"].to_list()
    low = [v - lo if lo is not None else 0.0 for v, lo in zip(heights, los, strict=True)]
    high = [hi - v if hi is not None else 0.0 for v, hi in zip(heights, his, strict=True)]
    positions = [i + offset for i in range(len(labels))]
    ax.bar(positions, heights, width=width, yerr=[low, high], capsize=4, color=colour, label=label)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylim(0, 1)
    if chance is not None:
        ax.axhline(chance, color="grey", linewidth=0.8, linestyle="--")
    ax.tick_params(axis="x", labelrotation=30)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)


def render_charts(frames: dict[str, pl.DataFrame], out_dir: str | Path) -> dict[str, str]:
    """Write the charts of `plot_frames` into `out_dir`; returns {title: file name} of those
    written (a chart without data is skipped)."""
    out = Path(out_dir)
    written = {}
    ifeval = frames["ifeval"]
    if ifeval.height:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        models = ifeval["model"].to_list()
        for offset, (figure, colour) in zip(
            (-0.2, 0.2),
            (("prompt_strict", "#4c72b0"), ("instruction_strict", "#dd8452")),
            strict=True,
        ):
            _bars(
                ax,
                ifeval,
                models,
                figure,
                offset=offset,
                width=0.4,
                colour=colour,
                label=figure.replace("_", " "),
                chance=None,
            )
        ax.set_ylim(0, max(0.6, *(v or 0 for v in ifeval["instruction_strict_hi"].to_list())))
        ax.legend(fontsize=8)
        ax.set_title(CHARTS["ifeval.png"])
        _save(fig, out / "ifeval.png")
        written[CHARTS["ifeval.png"]] = "ifeval.png"
    reward = frames["reward_model"]
    if reward.height:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        _bars(ax, reward, reward["model"].to_list(), "pairwise_accuracy")
        ax.set_title(CHARTS["reward_model.png"])
        _save(fig, out / "reward_model.png")
        written[CHARTS["reward_model.png"]] = "reward_model.png"
    wins = frames["win_rates"]
    if wins.height:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        labels = [f"{m} {c}" for m, c in wins.select("model", "comparison").iter_rows()]
        _bars(ax, wins, labels, "soft_win_rate")
        ax.set_title(CHARTS["win_rates.png"])
        _save(fig, out / "win_rates.png")
        written[CHARTS["win_rates.png"]] = "win_rates.png"
    scores = frames["judge_scores"].filter(pl.col("score") != "unparsed")
    if scores.height:
        series = scores.group_by("model", "stage", maintain_order=True).agg("score", "count")
        fig, ax = plt.subplots(figsize=(7, 3.5))
        width = 0.8 / series.height
        for i, (model, stage, points, counts) in enumerate(series.iter_rows()):
            total = sum(counts) or 1
            ax.bar(
                [int(s) + (i - series.height / 2) * width for s in points],
                [c / total for c in counts],
                width=width,
                label=f"{model} {stage}",
            )
        ax.set_xlabel("score")
        ax.set_ylabel("share of samples")
        ax.legend(fontsize=7, ncol=2)
        ax.set_title(CHARTS["judge_scores.png"])
        _save(fig, out / "judge_scores.png")
        written[CHARTS["judge_scores.png"]] = "judge_scores.png"
    return written
