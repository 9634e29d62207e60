"""The data view: static HTML pages of every self-rewarding iteration and every model,
readable offline.

    srlm view                                  everything under data/ -> reports/view/
    srlm view --iterations m2 --out /tmp/view  one iteration, elsewhere

`write_view(data_dir, iterations, out)` finds what the data folder holds and writes:
- `index.html`: each iteration with its counts and loop monitors (each monitor linked to the
  prompts that show it), each model with its evaluation figures, and links to the rest;
- per iteration (`srlm.tools.view_iteration`): every prompt with its candidates, judge samples
  and pair, with filters across pages, and the prompts the stage dropped with their reason;
- per model (`srlm.tools.view_models`): IFEval answers with each instruction's verdict, the
  judge against human ranks, comparisons with both orders' verdicts;
- across models and iterations (`srlm.tools.view_across`): one prompt's answers from every
  model side by side, and `srlm diff` of consecutive iterations as pages.
Pages come from Jinja2 templates with autoescaping, so any model output (`<script>`, an
`onerror=` attribute) is shown as text; CSS and JS ship in `view_templates/` (no CDN, nothing
fetched). The whole folder is replaced at once (`atomic_directory`), never half written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jinja2
import polars as pl

from srlm.core.artifacts import atomic_directory, read_artifact
from srlm.core.errors import SrlmError
from srlm.evaluation.report_inputs import load_metrics
from srlm.tools.view_across import answer_records, ifeval_across, write_across, write_diffs
from srlm.tools.view_data import PromptRecord, page_name
from srlm.tools.view_iteration import longest, write_iteration
from srlm.tools.view_models import find_models, read_model_frames, write_model_pages

TEMPLATES = Path(__file__).parent / "view_templates"
ASSETS = ("view.css", "view.js", "model.css", "model.js")
PAGE_SIZE = 100  # prompts a page: ~400 candidates and ~1,200 judge samples at the default N
# An iteration's artifacts (data/<iteration>/<name>) and their schemas; prompts_dropped is
# optional (built by newer prompts stages).
ARTIFACTS = {
    "prompts": "prompts",
    "candidates": "candidates",
    "judgments": "judgments",
    "scores": "candidate_scores",
    "pairs": "pairs",
}
OPTIONAL_ARTIFACTS = {"prompts_dropped": "dropped_prompts"}
# Loop monitors (metrics/<iteration>/monitors.json) and the filter of the iteration's pages
# showing their examples ("answers": the page of every model's answers side by side).
MONITOR_FILTERS = {
    "length_ratio_vs_m1": ("answers", "every model's answers side by side"),
    "parse_rate": ("unparsed", "prompts with an unparsed judge sample"),
    "top_score_share": ("top", "pairs whose chosen answer scored 5"),
    "pair_yield": ("tie", "prompts that gave no pair"),
    "score_gap": ("pair", "the pairs, chosen beside rejected"),
    "length_gap_chars": ("pair", "the pairs, chosen beside rejected"),
}


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def why_no_pair(record: PromptRecord) -> str:
    """Why the pairs stage kept no pair for this prompt, from what the view can see."""
    scored = [c.mean_score for c in record.candidates if c.mean_score is not None]
    if len(record.candidates) < 2:
        return f"{len(record.candidates)} candidate(s)"
    if len(scored) < 2:
        return "fewer than two candidates have a parsed score"
    if max(scored) == min(scored):
        return f"a tie: every scored candidate has {max(scored):.2f}"
    return "dropped by the pairs stage (margin below pairs.min_margin, or the same text)"


def environment() -> jinja2.Environment:
    """The view's Jinja2 environment: autoescaping on (model output is text), undefined
    names are errors, the view's helpers as globals."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every model output is text, whatever it contains
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        number=_number, why_no_pair=why_no_pair, longest=longest, page_name=page_name
    )
    return env


def find_iterations(data_dir: str | Path) -> list[str]:
    """The iterations under `data_dir` that have pairs (`data/<name>/pairs`), sorted."""
    return sorted(p.parent.name for p in Path(data_dir).glob("*/pairs") if p.is_dir())


def monitor_lines(metrics: dict, iteration: dict, across: dict) -> list[dict]:
    """The iteration's monitors, each with the page (if any) that shows its examples."""
    lines = []
    for key, value in metrics.items():
        if key in ("iteration", "scoring") or not isinstance(value, int | float):
            continue
        flag, what = MONITOR_FILTERS.get(key, (None, ""))
        href = None
        if flag in across:
            href = across[flag][0]
        elif flag is not None and flag != "answers":
            href = f"{iteration['name']}/{iteration['pages'][0]}#{flag}"
        lines.append({"name": key, "value": value, "href": href, "what": what if href else ""})
    return lines


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def model_line(summary: dict) -> dict:
    """A model's line of the index (its figures and page links) from `write_model_pages`."""
    figures, links = [], []
    if (ifeval := summary["ifeval"]) is not None:
        figures.append(("IFEval prompt-level strict", _percent(ifeval["prompt_strict"])))
        figures.append(
            ("IFEval answers cut at the token cap", f"{ifeval['capped']} of {ifeval['prompts']}")
        )
        links.append(("IFEval answers", ifeval["pages"][0]))
    if (judge := summary["judge"]) is not None:
        accuracy = judge["pairwise_accuracy"]
        figures.append(
            (
                f"judge vs human ranks ({judge['pairs']} pairs)",
                ", ".join(f"{mode} {_percent(value)}" for mode, value in accuracy.items()),
            )
        )
        links.append(("judge vs human ranks", judge["pages"][0]))
    for kind, label in (("reference", "vs the reference"), ("h2h", "head to head")):
        if (section := summary[kind]) is not None:
            figures.append(
                (
                    f"{label} ({', '.join(section['opponents'])})",
                    f"{section['wins']} won, {section['ties']} tied, {section['losses']} lost; "
                    f"{section['flips']} of {section['comparisons']} verdicts flip with the order",
                )
            )
            links.append((label, section["pages"][0]))
    return {"name": summary["name"], "figures": figures, "links": links}


def _read_iteration(data_dir: Path, name: str) -> dict[str, pl.DataFrame]:
    folder = data_dir / name
    frames = {kind: read_artifact(folder / kind, schema) for kind, schema in ARTIFACTS.items()}
    for kind, schema in OPTIONAL_ARTIFACTS.items():
        if (folder / kind).is_dir():
            frames[kind] = read_artifact(folder / kind, schema)
    return frames


def _across(env: jinja2.Environment, models: dict[str, dict], data_dir: Path, out: Path) -> dict:
    """Pages of every model's answers side by side (when there are evaluation prompts and
    answers) and of every model's IFEval answers (when any has them)."""
    links = {}
    answers = {m: f["answers"] for m, f in models.items() if "answers" in f}
    prompts_dir = data_dir / "eval" / "prompts"
    if answers and prompts_dir.is_dir():
        verdicts = {m: f["reference"] for m, f in models.items() if "reference" in f}
        records = answer_records(read_artifact(prompts_dir, "eval_prompts"), answers, verdicts)
        title = "Every model's answer to each evaluation prompt"
        links["answers"] = write_across(env, "answers", title, records, out)
    ifeval = {m: f["ifeval"] for m, f in models.items() if "ifeval" in f}
    if ifeval:
        title = "Every model's answer to each IFEval prompt"
        links["ifeval"] = write_across(env, "ifeval", title, ifeval_across(ifeval), out)
    return links


def seed_prompts(data_dir: Path) -> dict[str, str]:
    """The seed IFT prompts by example id (the few-shot examples of self-instruct), if built."""
    folder = data_dir / "seed" / "ift"
    if not folder.is_dir():
        return {}
    frame = read_artifact(folder, "seed_ift")
    return dict(frame.select("example_id", "prompt").iter_rows())


def write_pages(
    iterations: dict[str, dict[str, pl.DataFrame]],
    out: str | Path,
    page_size: int = PAGE_SIZE,
    monitors: dict[str, dict] | None = None,
    models: dict[str, dict] | None = None,
    data_dir: Path | None = None,
) -> Path:
    """Write the view of `iterations` (name -> its frames by `ARTIFACTS` name), their
    `monitors` (name -> monitors.json) and `models` (name -> `read_model_frames`) to `out`;
    `data_dir` adds the seed prompts and the pages across models."""
    out, models, monitors = Path(out), models or {}, monitors or {}
    env = environment()
    with atomic_directory(out) as tmp:
        across = _across(env, models, data_dir, tmp) if data_dir is not None else {}
        seeds = seed_prompts(data_dir) if data_dir is not None else {}
        summary = []
        for name, frames in iterations.items():
            line = write_iteration(env, name, frames, tmp, page_size, seeds)
            line["monitors"] = monitor_lines(monitors.get(name, {}), line, across)
            summary.append(line)
        model_lines = [
            model_line(write_model_pages(env, name, frames, tmp, page_size))
            for name, frames in models.items()
        ]
        (tmp / "assets").mkdir()
        for asset in ASSETS:
            shutil.copy(TEMPLATES / asset, tmp / "assets" / asset)
        index = env.get_template("index.html.j2").render(
            iterations=summary,
            models=model_lines,
            across=across,
            diffs=write_diffs(env, iterations, tmp),
        )
        (tmp / "index.html").write_text(index, encoding="utf-8")
    return out


def write_view(
    data_dir: str | Path,
    iterations: list[str] | None,
    out: str | Path,
    page_size: int = PAGE_SIZE,
    models: list[str] | None = None,
    metrics_dir: str | Path | None = None,
) -> Path:
    """Write the view of `iterations` and `models` (default: every one under `data_dir`, and
    their monitors from `metrics_dir` when it has them) to `out`."""
    data_dir = Path(data_dir)
    names = iterations or find_iterations(data_dir)
    model_names = find_models(data_dir) if models is None else models
    if not names and not model_names:
        raise SrlmError(
            f"{data_dir}: no iteration with pairs and no evaluated model to show "
            "(build them with `dvc repro`)"
        )
    monitors = {}
    for name in names if metrics_dir is not None else ():
        found = load_metrics(Path(metrics_dir or ".") / name / "monitors.json")
        if found is not None:
            monitors[name] = found
    return write_pages(
        {name: _read_iteration(data_dir, name) for name in names},
        out,
        page_size,
        monitors,
        {m: read_model_frames(data_dir, m) for m in model_names},
        data_dir,
    )
