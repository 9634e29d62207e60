"""The data view: static HTML pages of every self-rewarding iteration, readable offline.

    srlm view                                  every iteration under data/ -> reports/view/
    srlm view --iterations m2 --out /tmp/view  one iteration, elsewhere

`write_view(data_dir, iterations, out)` reads each iteration's prompts, candidates, judgments,
scores and pairs (`srlm.tools.view_data` joins them) and writes `out/index.html`, one page of at
most `page_size` prompts at a time (`out/<iteration>/page-0001.html`, ...) and the page's CSS
and JS (shipped in `view_templates/`: no CDN, nothing fetched). Pages come from Jinja2
templates with autoescaping, so any model output (`<script>`, an `onerror=` attribute) is shown
as text. The whole folder is replaced at once (`atomic_directory`), never half written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jinja2
import polars as pl

from srlm.core.artifacts import atomic_directory, read_artifact
from srlm.core.errors import SrlmError
from srlm.tools.view_data import PromptRecord, iteration_records, pages

TEMPLATES = Path(__file__).parent / "view_templates"
ASSETS = ("view.css", "view.js")
PAGE_SIZE = 100  # prompts a page: ~400 candidates and ~1,200 judge samples at the default N
# An iteration's artifacts (data/<iteration>/<name>) and their schemas, in the order
# `iteration_records` takes them.
ARTIFACTS = {
    "prompts": "prompts",
    "candidates": "candidates",
    "judgments": "judgments",
    "scores": "candidate_scores",
    "pairs": "pairs",
}


def page_name(page: int) -> str:
    return f"page-{page:04d}.html"


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


def _longest(record: PromptRecord) -> int:
    return max((len(c.response) for c in record.candidates), default=0)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every model output is text, whatever it contains
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        number=_number, why_no_pair=why_no_pair, longest=_longest, page_name=page_name
    )
    return env


def find_iterations(data_dir: str | Path) -> list[str]:
    """The iterations under `data_dir` that have pairs (`data/<name>/pairs`), sorted."""
    return sorted(p.parent.name for p in Path(data_dir).glob("*/pairs") if p.is_dir())


def _iteration(
    env: jinja2.Environment, name: str, frames: dict[str, pl.DataFrame], out: Path, page_size: int
) -> dict:
    records = iteration_records(*(frames[kind] for kind in ARTIFACTS))
    split = pages(records, page_size)
    (out / name).mkdir()
    template = env.get_template("iteration.html.j2")
    for number, chunk in enumerate(split, start=1):
        first = (number - 1) * page_size + 1
        html = template.render(
            iteration=name,
            records=chunk,
            page=number,
            n_pages=len(split),
            total=len(records),
            first=first if chunk else 0,
            last=first + len(chunk) - 1,
        )
        (out / name / page_name(number)).write_text(html, encoding="utf-8")
    flags = [r.flags for r in records]
    return {
        "name": name,
        "prompts": len(records),
        "candidates": frames["candidates"].height,
        "samples": frames["judgments"].height,
        "pairs": sum(f["pair"] for f in flags),
        "no_pair": sum(not f["pair"] for f in flags),
        "unparsed": int(frames["judgments"]["score"].is_null().sum()),
        "pages": [page_name(n) for n in range(1, len(split) + 1)],
    }


def write_pages(
    iterations: dict[str, dict[str, pl.DataFrame]], out: str | Path, page_size: int = PAGE_SIZE
) -> Path:
    """Write the view of `iterations` (name -> its frames by `ARTIFACTS` name) to `out`."""
    out = Path(out)
    env = environment()
    with atomic_directory(out) as tmp:
        summary = [
            _iteration(env, name, frames, tmp, page_size) for name, frames in iterations.items()
        ]
        (tmp / "assets").mkdir()
        for asset in ASSETS:
            shutil.copy(TEMPLATES / asset, tmp / "assets" / asset)
        index = env.get_template("index.html.j2").render(iterations=summary)
        (tmp / "index.html").write_text(index, encoding="utf-8")
    return out


def write_view(
    data_dir: str | Path, iterations: list[str] | None, out: str | Path, page_size: int = PAGE_SIZE
) -> Path:
    """Write the view of `iterations` (default: every one under `data_dir`) to `out`."""
    data_dir = Path(data_dir)
    names = iterations or find_iterations(data_dir)
    if not names:
        raise SrlmError(f"{data_dir}: no iteration with pairs to show (build one with `dvc repro`)")
    frames = {
        name: {
            kind: read_artifact(data_dir / name / kind, schema)
            for kind, schema in ARTIFACTS.items()
        }
        for name in names
    }
    return write_pages(frames, out, page_size)
