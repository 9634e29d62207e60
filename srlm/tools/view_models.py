"""The data view's pages of one model's evaluation, read offline like the iteration pages.

`read_model_frames(data_dir, model)` reads what exists of the model's evaluation artifacts
and the shared frames they need; `write_model_pages(env, model, frames, out, page_size)`
writes `out/models/<model>/`:

- `ifeval-0001.html`, ...: each IFEval prompt, the answer and every instruction's strict and
  loose verdict, filterable to the prompts that failed an instruction or hit the token cap;
- `judge-0001.html`, ...: each EFT-eval prompt, its replies in human-rank order with every
  judge sample, and the human-ordered pairs the judge orders otherwise;
- `reference-0001.html`, `h2h-0001.html`, ...: the model's answer and the opponent's side by
  side with the verdict in both orders, flagging the ones that flip when the answers swap.

Pages come from the `model_*.html.j2` templates of the view's autoescaping environment, so
every model output is shown as text. Joins are in `srlm.tools.view_model_data`.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import polars as pl

from srlm.core.artifacts import read_artifact
from srlm.tools.view_data import page_context, page_name, pages
from srlm.tools.view_model_data import (
    MODES,
    Comparison,
    IFEvalRecord,
    JudgeGroup,
    h2h_records,
    ifeval_records,
    judge_groups,
    reference_records,
)

# `read_model_frames`' keys: the model's artifacts (data/eval/<model>/<key>) and schemas ...
MODEL_ARTIFACTS = {
    "ifeval": "ifeval_results",
    "judge": "judge_outputs",
    "reference": "verdicts",
    "h2h": "verdicts",
    "answers": "answers",
}
# ... the shared ones (key -> path under data_dir, schema), read only when a section needs them
SHARED = {
    "eft_eval": ("seed/eft_eval", "seed_eft"),
    "eval_prompts": ("eval/prompts", "eval_prompts"),
}
OPPONENT = "answers:"  # + a head-to-head opponent's name: that model's answers
# The pages of a model, in the order they are written and linked: section -> (title, filters)
SECTIONS = {
    "ifeval": (
        "IFEval answers",
        {"failed": "failed an instruction (strict)", "capped": "hit the token cap"},
    ),
    "judge": (
        "judge evaluation against human ranks",
        {"disagree": "judge misorders a pair (sampled)", "unparsed": "an unparsed sample"},
    ),
    "reference": (
        "comparisons with the references",
        {"flip": "order flip", "win": "win", "tie": "tie", "loss": "loss"},
    ),
    "h2h": (
        "head-to-head comparisons",
        {"flip": "order flip", "win": "win", "tie": "tie", "loss": "loss"},
    ),
}
TEMPLATES = {
    "ifeval": "model_ifeval.html.j2",
    "judge": "model_judge.html.j2",
    "reference": "model_comparisons.html.j2",
    "h2h": "model_comparisons.html.j2",
}


def find_models(data_dir: str | Path) -> list[str]:
    """The models under `data_dir/eval` with an evaluation to show, sorted."""
    root = Path(data_dir) / "eval"
    return sorted(d.name for d in root.glob("*") if any((d / kind).is_dir() for kind in SECTIONS))


def read_model_frames(data_dir: str | Path, model: str) -> dict[str, pl.DataFrame]:
    """What exists of `model`'s evaluation, by key (absent: the artifact is not there):

    - `MODEL_ARTIFACTS` keys: `data_dir/eval/<model>/<key>` (ifeval, judge, reference, h2h,
      answers);
    - `eft_eval` (`data_dir/seed/eft_eval`, the judged replies' texts) when `judge` is there,
      `eval_prompts` (`data_dir/eval/prompts`, prompts and references) with `reference`/`h2h`;
    - `answers:<opponent>` (`data_dir/eval/<opponent>/answers`) for each opponent in `h2h`.
    """
    data_dir = Path(data_dir)
    folder = data_dir / "eval" / model
    frames = {
        kind: read_artifact(folder / kind, schema)
        for kind, schema in MODEL_ARTIFACTS.items()
        if (folder / kind).is_dir()
    }
    wanted = {
        "eft_eval": "judge" in frames,
        "eval_prompts": bool({"reference", "h2h"} & set(frames)),
    }
    for key, (path, schema) in SHARED.items():
        if wanted[key] and (data_dir / path).is_dir():
            frames[key] = read_artifact(data_dir / path, schema)
    if "h2h" in frames:
        for opponent in sorted(set(frames["h2h"]["opponent"].to_list())):
            path = data_dir / "eval" / opponent / "answers"
            # an opponent is a model's folder name; anything else names no answers
            if Path(opponent).name == opponent and path.is_dir():
                frames[OPPONENT + opponent] = read_artifact(path, "answers")
    return frames


def _leaning(share: float | None) -> str:
    """What the evaluator's preference share for the model's answer says, in words."""
    if share is None:
        return "no mass on either letter"
    if share == 0.5:
        return "no preference"
    return "prefers the model's answer" if share > 0.5 else "prefers the opponent's"


def _records(kind: str, frames: dict[str, pl.DataFrame]) -> list:
    if kind == "ifeval":
        return ifeval_records(frames["ifeval"])
    if kind == "judge":
        return judge_groups(frames["judge"], frames.get("eft_eval"))
    if kind == "reference":
        return reference_records(
            frames["reference"], frames.get("answers"), frames.get("eval_prompts")
        )
    opponents = {k.removeprefix(OPPONENT): f for k, f in frames.items() if k.startswith(OPPONENT)}
    return h2h_records(frames["h2h"], frames.get("answers"), frames.get("eval_prompts"), opponents)


def ifeval_summary(records: list[IFEvalRecord]) -> dict:
    """Counts and prompt-level accuracies (every instruction followed) of IFEval records."""
    n = len(records)
    failed = sum(r.flags["failed"] for r in records)
    failed_loose = sum(r.flags["failed_loose"] for r in records)
    return {
        "prompts": n,
        "instructions": sum(len(r.instructions) for r in records),
        "failed": failed,
        "capped": sum(r.flags["capped"] for r in records),
        "prompt_strict": round((n - failed) / n, 4) if n else None,
        "prompt_loose": round((n - failed_loose) / n, 4) if n else None,
    }


def judge_summary(groups: list[JudgeGroup]) -> dict:
    """Counts and pairwise agreement with the human ranks (per scoring mode) of judge groups."""
    pairs = sum(g.pairs for g in groups)
    agreeing = {mode: sum(g.agreeing.get(mode, 0) for g in groups) for mode in MODES}
    samples = [s for g in groups for r in g.replies for s in r.samples]
    return {
        "groups": len(groups),
        "replies": sum(len(g.replies) for g in groups),
        "samples": len(samples),
        "unparsed": sum(s.score is None for s in samples),
        "pairs": pairs,
        "agreeing": agreeing,
        "pairwise_accuracy": {
            mode: round(agreeing[mode] / pairs, 4) if pairs else None for mode in MODES
        },
    }


def comparison_summary(records: list[Comparison]) -> dict:
    """Outcome counts and order flips of comparison records."""
    return {
        "comparisons": len(records),
        "opponents": sorted({r.opponent for r in records}),
        "wins": sum(r.outcome == "win" for r in records),
        "ties": sum(r.outcome == "tie" for r in records),
        "losses": sum(r.outcome == "loss" for r in records),
        "flips": sum(r.flip for r in records),
    }


def _summary(kind: str, records: list) -> dict:
    if kind == "ifeval":
        return ifeval_summary(records)
    if kind == "judge":
        return judge_summary(records)
    return comparison_summary(records)


def write_model_pages(
    env: jinja2.Environment,
    model: str,
    frames: dict[str, pl.DataFrame],
    out: Path,
    page_size: int,
) -> dict:
    """Write `model`'s pages from `frames` (as `read_model_frames` gives) into
    `out/models/<model>/`, at most `page_size` records a page; return its summary for the
    index: `name`, `pages` (every page, relative to `out`) and, per section of `SECTIONS`,
    its summary with its own `pages` (None: the model has no such artifact)."""
    folder = Path(out) / "models" / model
    folder.mkdir(parents=True, exist_ok=True)
    present = [kind for kind in SECTIONS if kind in frames]
    nav = [(SECTIONS[kind][0], page_name(1, kind)) for kind in present]
    summary: dict = {"name": model, "pages": [], **{kind: None for kind in SECTIONS}}
    for kind in present:
        records = _records(kind, frames)
        section = _summary(kind, records)
        split = pages(records, page_size)
        title, filters = SECTIONS[kind]
        template = env.get_template(TEMPLATES[kind])
        for number, chunk in enumerate(split, start=1):
            html = template.render(
                model=model,
                kind=kind,
                title=title,
                filters=filters,
                nav=nav,
                records=chunk,
                summary=section,
                **page_context(number, chunk, page_size, len(split), len(records)),
                previous=page_name(number - 1, kind) if number > 1 else None,
                next=page_name(number + 1, kind) if number < len(split) else None,
                leaning=_leaning,
            )
            (folder / page_name(number, kind)).write_text(html, encoding="utf-8")
        section["pages"] = [
            f"models/{model}/{page_name(n, kind)}" for n in range(1, len(split) + 1)
        ]
        summary[kind] = section
        summary["pages"] += section["pages"]
    return summary
