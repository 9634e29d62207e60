"""The report's IFEval section: every model's four numbers, and each model against its base
and against M0 on the same prompts, with what each comparison could detect.

Reads what `ifeval@<model>` wrote under the metrics folder: `<model>/ifeval.json` (through
`report.collect`) and `<model>/ifeval_prompts.csv`, the per-prompt passes that paired
differences need. A model without them is left out (a half-built pipeline still reports).
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from srlm.core.bounded_read import METADATA_LIMIT, read_bytes
from srlm.core.errors import SrlmError
from srlm.evaluation.ifeval_metrics import FIGURES, paired_differences

BUILT_BASES = {"m1": "m0"}  # SFT trains m1 from m0; the iterations name their own bases
HEADERS = {
    "prompt_strict": "prompt strict %",
    "instruction_strict": "instr. strict %",
    "prompt_loose": "prompt loose %",
    "instruction_loose": "instr. loose %",
}


def model_bases(iterations: dict) -> dict[str, str]:
    """Each trained model -> the model it was trained from (`iterations`: name -> spec with
    `.base`, as in `Params.iterations`)."""
    return {**BUILT_BASES, **{name: spec.base for name, spec in iterations.items()}}


def read_prompt_tables(metrics_dir: str | Path, models: list[str]) -> dict[str, pl.DataFrame]:
    """`<model>/ifeval_prompts.csv` of each model that has one."""
    tables = {}
    for model in models:
        path = Path(metrics_dir) / model / "ifeval_prompts.csv"
        if not path.is_file():
            continue
        data = read_bytes(path, "IFEval per-prompt table", METADATA_LIMIT)
        try:
            tables[model] = pl.read_csv(
                io.BytesIO(data),
                schema_overrides={
                    c: pl.Int64 for c in ("key", "instructions", "strict_passed", "loose_passed")
                },
            )
        except (pl.exceptions.PolarsError, OSError) as err:
            raise SrlmError(
                f"{path}: not an IFEval per-prompt table ({err}); rebuild it with "
                f"`dvc repro ifeval@{model}`"
            ) from None
    return tables


def ifeval_comparisons(tables: dict[str, pl.DataFrame], bases: dict[str, str]) -> dict:
    """model -> {"vs_base": {...}, "vs_m0": {...}}: `ifeval_metrics.paired_differences` of the
    model minus its base, and minus m0 when the base is another model. Each side's name is
    under `"against"`."""
    out = {}
    for model, table in tables.items():
        opponents = {"vs_base": bases.get(model), "vs_m0": "m0"}
        if opponents["vs_base"] == "m0" or model == "m0":
            opponents.pop("vs_m0")
        found = {
            kind: {"against": other, **paired_differences(table, tables[other])}
            for kind, other in opponents.items()
            if other in tables
        }
        if found:
            out[model] = found
    return out


def _percent(value, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{100 * value:+.1f}" if signed else f"{100 * value:.1f}"


def _with_interval(data: dict, key: str, signed: bool = False) -> str:
    text = _percent(data.get(key), signed)
    interval = data.get(f"{key}_ci95")
    if interval and text != "–":
        text += f" [{_percent(interval[0], signed)}, {_percent(interval[1], signed)}]"
    return text


def _difference(comparison: dict | None, key: str = "prompt_strict") -> str:
    """`+2.1 [-3.0, +7.3] (±9.8, vs m1)`: difference, interval, smallest detectable."""
    if not comparison:
        return "–"
    mde = comparison.get(f"{key}_mde")
    detect = f"±{100 * mde:.1f}" if mde is not None else "–"
    return f"{_with_interval(comparison, key, signed=True)} ({detect}, vs {comparison['against']})"


def ifeval_markdown(rows: list[dict], comparisons: dict) -> list[str]:
    """The report's first section: a table of the four accuracies per model and the paired
    differences of prompt-level strict accuracy."""
    measured = [row for row in rows if row.get("ifeval")]
    if not measured:
        return []
    table = []
    for row in measured:
        data, paired = row["ifeval"], comparisons.get(row["model"], {})
        table.append(
            [
                row["model"],
                *(_with_interval(data, f) for f in HEADERS),
                _percent(data.get("score")),
                str(data.get("n_prompts", "–")),
                _difference(paired.get("vs_base")),
                _difference(paired.get("vs_m0")),
            ]
        )
    headers = [
        "model",
        *HEADERS.values(),
        "score %",
        "prompts",
        "Δ prompt strict vs base",
        "Δ prompt strict vs m0",
    ]
    first = measured[0]["ifeval"]
    return [
        "### IFEval: instruction following checked by code (`ifeval@<model>`)",
        "",
        "| " + " | ".join(headers) + " |",
        "|---|" + "---:|" * (len(headers) - 1),
        *("| " + " | ".join(cells) + " |" for cells in table),
        "",
        f"{first.get('n_prompts')} prompts with {first.get('n_instructions')} instructions "
        "(the same for every model). Prompt level: every instruction of the prompt followed; "
        "instruction level: the share of instructions followed; loose also accepts the answer "
        "without its first or last line or without `*`. Score: the mean of the two strict "
        "accuracies (what model cards report; SmolLM2-135M-Instruct's card: 29.9 on all 541). "
        "[lo, hi]: 95% bootstrap interval over prompts. Δ: paired difference on the same "
        "prompts, its interval, and (±) the smallest difference this sample would detect "
        "(80% power, 5% two-sided): a Δ inside ± with an interval across 0 means too few "
        "prompts to tell, not no effect.",
        "",
    ]


def ifeval_frame(rows: list[dict]) -> pl.DataFrame:
    """Per model: the four accuracies with `_lo`/`_hi` interval ends (for `dvc plots` and the
    PNG chart)."""
    records = []
    for row in rows:
        data = row.get("ifeval")
        if not data:
            continue
        record = {"model": row["model"]}
        for figure in FIGURES:
            low, high = data.get(f"{figure}_ci95") or (None, None)
            record |= {figure: data.get(figure), f"{figure}_lo": low, f"{figure}_hi": high}
        records.append(record)
    return pl.DataFrame(
        records,
        schema={
            "model": pl.Utf8,
            **{f"{figure}{end}": pl.Float64 for figure in FIGURES for end in ("", "_lo", "_hi")},
        },
    )
