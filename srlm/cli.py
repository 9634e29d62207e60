"""The `srlm` command: look at and check the artifacts the pipeline builds.

    srlm show data/seed/eft            schema, manifest and first rows of an artifact
    srlm validate data/seed/eft        validate every row; exit 1 with the violations
    srlm params                        the effective params (defaults filled in), checked
    srlm params --explain              every params key: type, default and help
    srlm diff data/m2/pairs data/m3/pairs              what changed between two artifacts
    srlm diff data/m2/pairs --rev HEAD~1 --rev HEAD    one artifact at two git revisions
    srlm report                        one table of every model's evaluation metrics
    srlm view                          browsable HTML pages of every iteration and model
    srlm compare                       did the rebuild agree with HEAD's metrics (intervals)?

The pipeline itself runs with `dvc repro`.
"""

from __future__ import annotations

import argparse
import sys

from srlm import __version__
from srlm.cli_commands import (
    cmd_compare,
    cmd_diff,
    cmd_export,
    cmd_params,
    cmd_report,
    cmd_show,
    cmd_validate,
    cmd_view,
)
from srlm.core.console import error_line, one_line
from srlm.core.errors import SrlmError

EXAMPLES = """examples:
  srlm diff data/m2/pairs data/m3/pairs --limit 2
  srlm diff data/m2/pairs --rev HEAD~1 --rev HEAD --json
  srlm show data/seed/eft --rows 3
  srlm export data/m2/pairs --format hf --out m2_pairs
  srlm validate data/seed/ift && echo valid
  srlm params --file params.yaml
  srlm report --out report.md
  srlm compare HEAD~1 HEAD --all
"""


COMPARE_EPILOG = """A and B are each a git revision (HEAD, HEAD~3, a tag) or a folder: a metrics
folder, or a clone holding one. Default: A = HEAD, B = the workspace's metrics folder, i.e.
"did my dvc repro reproduce the committed run?".

A figure with a 95% interval (x and x_ci95) agrees when the two intervals overlap: the
conservative test for two independent runs (disjoint intervals mean a difference significant
well below 5%; overlap is not proof of equality). Counts, labels and nulls are the same or
changed; other floats the same to 4 decimals or moved (no interval); timings, hashes, absolute
paths and machine strings are not compared. Shown: what differs, changed, moved or is in one
run only (--all: every figure). Exit 1 when a figure differs or a count changed, else 0.

examples:
  srlm compare                          HEAD's metrics vs the workspace's
  srlm compare HEAD~3 HEAD --all        two revisions, every figure
  srlm compare ../their-clone --quiet   another clone vs the workspace: the verdict only
  srlm compare v1.0 --format md > comparison.md
  srlm compare --allow-count-changes    a rebuild on other hardware (bf16 rounding)"""


def _count(minimum: int):
    """An argparse type: an integer of at least `minimum` (argparse names the option)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srlm",
        description=__doc__.splitlines()[0],
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"srlm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser(
        "show",
        help="schema, manifest and first rows of an artifact",
        epilog="example: srlm show data/seed/eft --rows 3",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("path", help="artifact directory (holds _manifest.json)")
    show.add_argument("--rows", type=_count(0), default=5, help="rows to print (default 5)")
    show.add_argument("--width", type=_count(1), default=60, help="characters per text cell")
    show.set_defaults(func=cmd_show)
    validate = sub.add_parser(
        "validate",
        help="validate an artifact against its schema",
        epilog="example: srlm validate data/seed/ift",
    )
    validate.add_argument("path", help="artifact directory")
    validate.set_defaults(func=cmd_validate)
    diff = sub.add_parser(
        "diff",
        help="what changed inside an artifact between two builds or revisions",
        epilog="examples:\n  srlm diff data/m2/pairs data/m3/pairs --limit 2\n"
        "  srlm diff data/m2/pairs --rev HEAD~1 --rev HEAD --json\n"
        "  srlm diff data/m2/pairs --rev HEAD~1     (against the workspace)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diff.add_argument("paths", nargs="+", help="two artifact directories, or one with --rev")
    diff.add_argument("--rev", action="append", help="git revision (give one or two)")
    diff.add_argument("--json", action="store_true", help="machine-readable report")
    diff.add_argument("--limit", type=_count(0), default=0, help="example rows to print per change")
    diff.set_defaults(func=cmd_diff)
    export = sub.add_parser(
        "export",
        help="write an artifact as parquet, JSON lines or a datasets directory",
        epilog="examples:\n  srlm export data/m2/pairs --format hf --out m2_pairs\n"
        "  srlm export data/seed/ift --format jsonl --out ift.jsonl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("path", help="artifact directory")
    export.add_argument("--format", choices=["parquet", "jsonl", "hf"], default="parquet")
    export.add_argument("--out", required=True, help="file (parquet, jsonl) or directory (hf)")
    export.set_defaults(func=cmd_export)
    view = sub.add_parser(
        "view",
        help="static HTML pages of every iteration (prompts, candidates, judge samples, pairs)"
        " and model (evaluation answers)",
        epilog="examples:\n  srlm view                 everything under data/ -> reports/view\n"
        "  srlm view --iterations m2 --models m1 m2 --out /tmp/view --page-size 50\n"
        "  then open reports/view/index.html (no network needed)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    view.add_argument("--data", default="data", help="the pipeline's data folder")
    view.add_argument("--iterations", nargs="+", help="default: every one with pairs")
    view.add_argument(
        "--models", nargs="+", help="default: every one with an evaluation under data/eval"
    )
    view.add_argument(
        "--metrics", default="metrics", help="the metrics folder (the loop monitors), if any"
    )
    view.add_argument("--out", default="reports/view", help="the view's folder (replaced)")
    view.add_argument("--page-size", type=_count(1), default=100, help="prompts a page")
    view.set_defaults(func=cmd_view)
    report = sub.add_parser(
        "report",
        help="one table of the evaluation metrics of every model (markdown)",
        epilog="examples:\n  srlm report\n  srlm report --model m1 --model m3 --out report.md\n"
        "  dvc metrics diff HEAD~1      (the same metrics between git revisions)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("--metrics-dir", default="metrics", help="the pipeline's metrics folder")
    report.add_argument(
        "--params",
        default="params.yaml",
        help="its evaluation.models are the rows (default params.yaml)",
    )
    report.add_argument("--model", action="append", help="report only these models")
    report.add_argument("--out", help="also write the markdown here")
    report.add_argument("--force", action="store_true", help="replace an existing --out file")
    report.set_defaults(func=cmd_report)
    comp = sub.add_parser(
        "compare",
        help="do two runs' metrics agree within their intervals? (a rebuild's check)",
        epilog=COMPARE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    comp.add_argument(
        "a", nargs="?", default="HEAD", help="git revision or metrics folder (default HEAD)"
    )
    comp.add_argument(
        "b",
        nargs="?",
        default=None,
        help="git revision or metrics folder (default: the workspace's)",
    )
    comp.add_argument(
        "--metrics-dir",
        default="metrics",
        help="the metrics folder, relative to the repository (default metrics)",
    )
    comp.add_argument(
        "--format",
        choices=["text", "md", "json"],
        default="text",
        help="aligned text (default), markdown, or JSON with every row",
    )
    comp.add_argument(
        "--all",
        action="store_true",
        help="also list the figures that are the same, agree or are not compared",
    )
    comp.add_argument("--quiet", action="store_true", help="print only the one-line verdict")
    comp.add_argument(
        "--allow-count-changes",
        action="store_true",
        help="list changed counts but exit 1 only when a figure differs (for a "
        "rebuild on other hardware, where a trained model's tallies move)",
    )
    comp.set_defaults(func=cmd_compare)
    params = sub.add_parser(
        "params",
        help="print the checked params with defaults filled in",
        epilog="examples:\n  srlm params --file profiles/paper.yaml\n"
        "  srlm params --explain | grep dpo.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    params.add_argument(
        "--file", default="params.yaml", help="params file to check and print (default params.yaml)"
    )
    params.add_argument(
        "--explain",
        action="store_true",
        help="print every key (group.key, type, default, help) instead",
    )
    params.set_defaults(func=cmd_params)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    where = f"srlm {args.command}"
    try:
        return args.func(args)
    except Exception as err:  # noqa: BLE001 - every error is one line (srlm.core.console)
        line: str | None
        if isinstance(err, SrlmError):
            line = f"error: {where}: {one_line(err)}"
        elif (line := error_line(err, where)) is None:  # SRLM_DEBUG=1: the traceback
            raise
        print(line, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
