"""The data view's pages of one self-rewarding iteration (see `srlm.tools.view`).

`write_iteration(env, name, frames, out, page_size)` writes into `out/<name>/`:
- `page-0001.html`, ...: at most `page_size` prompts a page, each with its candidates, every
  judge sample and the pair it gave (or why none), and filters;
- `flags.js`: every prompt's filter flags and page, so that a filter also counts and links the
  matching prompts on the other pages (loaded by `<script>`: `fetch` of a local file is
  refused by browsers on `file://`, a script is not). It holds numbers and page names only,
  never model text;
- `dropped-0001.html`, ...: the generations the prompts stage dropped, with their reason, when
  the iteration has a `prompts_dropped` artifact.
It returns the iteration's line of the index.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import jinja2
import polars as pl

from srlm.tools.view_data import PromptRecord, iteration_records, page_context, page_name, pages

# Filter flags, in the order of their bits in flags.js (view.js reads the same names).
FLAGS = ("pair", "tie", "unparsed", "top")
DROPPED_PAGE_SIZE = 500  # dropped generations are one line each: many fit a page


def longest(record: PromptRecord) -> int:
    """The length in characters of the prompt's longest candidate answer."""
    return max((len(c.response) for c in record.candidates), default=0)


def flags_script(records: list[PromptRecord], page_size: int) -> str:
    """flags.js: `SRLM_FLAGS.rows` holds [page index, flag bits, longest answer] a prompt."""
    rows = []
    for index, record in enumerate(records):
        flags = record.flags
        bits = sum(1 << bit for bit, name in enumerate(FLAGS) if flags[name])
        rows.append([index // page_size, bits, longest(record)])
    n_pages = max(1, -(-len(records) // page_size))
    data = {
        "flags": list(FLAGS),
        "pages": [page_name(n) for n in range(1, n_pages + 1)],
        "rows": rows,
    }
    return f"window.SRLM_FLAGS = {json.dumps(data, separators=(',', ':'))};\n"


def _dropped_pages(
    env: jinja2.Environment, name: str, dropped: pl.DataFrame, folder: Path
) -> list[str]:
    """Pages of the dropped generations, sorted by reason (then as generated)."""
    by_reason = Counter(dropped["reason"].to_list())
    rows = dropped.with_row_index("_order").sort("reason", "_order").to_dicts()
    chunks = pages(rows, DROPPED_PAGE_SIZE)
    template = env.get_template("dropped.html.j2")
    names = [page_name(n, "dropped") for n in range(1, len(chunks) + 1)]
    for number, chunk in enumerate(chunks, start=1):
        html = template.render(
            iteration=name,
            rows=chunk,
            reasons=sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0])),
            total=dropped.height,
            page=number,
            pages=names,
        )
        (folder / names[number - 1]).write_text(html, encoding="utf-8")
    return names


def write_iteration(
    env: jinja2.Environment,
    name: str,
    frames: dict[str, pl.DataFrame],
    out: Path,
    page_size: int,
    seed_prompts: dict[str, str] | None = None,
) -> dict:
    """Write iteration `name`'s pages into `out/<name>/` from its frames (prompts, candidates,
    judgments, scores, pairs; optionally prompts_dropped); return its index line.
    `seed_prompts` (IFT example id -> prompt) shows the few-shot examples a prompt was
    written from; the iteration's own prompts cover the generated ones."""
    fewshot = {
        **(seed_prompts or {}),
        **dict(frames["prompts"].select("prompt_id", "prompt").iter_rows()),
    }
    records = iteration_records(
        frames["prompts"], frames["candidates"], frames["judgments"], frames["scores"],
        frames["pairs"],
    )  # fmt: skip
    split = pages(records, page_size)
    folder = out / name
    folder.mkdir()
    template = env.get_template("iteration.html.j2")
    for number, chunk in enumerate(split, start=1):
        html = template.render(
            iteration=name,
            records=chunk,
            **page_context(number, chunk, page_size, len(split), len(records)),
            has_dropped="prompts_dropped" in frames,
            fewshot=fewshot,
        )
        (folder / page_name(number)).write_text(html, encoding="utf-8")
    (folder / "flags.js").write_text(flags_script(records, page_size), encoding="utf-8")
    dropped = frames.get("prompts_dropped")
    counts = Counter(name for r in records for name, on in r.flags.items() if on)
    return {
        "name": name,
        "prompts": len(records),
        "candidates": frames["candidates"].height,
        "samples": frames["judgments"].height,
        "pairs": counts["pair"],
        "no_pair": len(records) - counts["pair"],
        "flags": {flag: counts[flag] for flag in FLAGS},
        "unparsed": int(frames["judgments"]["score"].is_null().sum()),
        "pages": [page_name(n) for n in range(1, len(split) + 1)],
        "dropped": None if dropped is None else dropped.height,
        "dropped_pages": [] if dropped is None else _dropped_pages(env, name, dropped, folder),
    }
