"""The `srlm` command: look at and check the artifacts the pipeline builds.

    srlm show data/seed/eft            schema, manifest and first rows of an artifact
    srlm validate data/seed/eft        validate every row; exit 1 with the violations
    srlm params                        the effective params (defaults filled in), checked
    srlm params --explain              every params key: type, default and help
    srlm diff data/m2/pairs data/m3/pairs              what changed between two artifacts
    srlm diff data/m2/pairs --rev HEAD~1 --rev HEAD    one artifact at two git revisions
    srlm report                        one table of every model's evaluation metrics
    srlm compare                       did the rebuild agree with HEAD's metrics (intervals)?

The pipeline itself runs with `dvc repro`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

import polars as pl

from srlm import __version__
from srlm.core.artifacts import read_artifact, read_manifest, scan_artifact
from srlm.core.console import error_line, one_line
from srlm.core.errors import SrlmError
from srlm.core.params import as_dict, load_params
from srlm.core.params_help import explain

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


def cmd_show(args: argparse.Namespace) -> int:
    from srlm.tools.terminal import escape_controls, printable_frame

    manifest = read_manifest(args.path)
    frame = read_artifact(args.path)
    lines = [
        f"{args.path}: {manifest['schema']} v{manifest.get('schema_version', '?')}, "
        f"{manifest['rows']} rows, fingerprint {manifest['fingerprint']}",
        "columns: " + ", ".join(f"{k}: {v}" for k, v in frame.schema.items()),
    ]
    versions = manifest.get("versions")
    if isinstance(versions, dict):
        lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    print("\n".join(escape_controls(line) for line in lines))
    # artifact text is model output: a control sequence in it must not reach the terminal
    with pl.Config(fmt_str_lengths=args.width, tbl_rows=args.rows, tbl_cols=-1):
        print(printable_frame(frame.head(args.rows)))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    frame = read_artifact(args.path)  # raises with the violations
    print(f"{args.path}: valid ({frame.height} rows)")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        return _diff(args, stack)


def _diff(args: argparse.Namespace, stack: contextlib.ExitStack) -> int:
    import tempfile

    from srlm.tools.diff import diff_frames, format_report
    from srlm.tools.revisions import fetch_revision

    revs = args.rev or []
    if len(args.paths) == 2 and not revs:
        before, after = args.paths
        sources = [(before, Path(before)), (after, Path(after))]
    elif len(args.paths) == 1 and len(revs) in (1, 2):
        revs = revs if len(revs) == 2 else [revs[0], None]
        sources = []
        tmp = tempfile.TemporaryDirectory(prefix="srlm-diff-")
        stack.callback(tmp.cleanup)
        for index, rev in enumerate(revs):
            label = f"{args.paths[0]}@{rev or 'workspace'}"
            into = Path(tmp.name) / str(index)  # by position: two spellings of one rev differ
            path = fetch_revision(args.paths[0], rev, into) if rev else Path(args.paths[0])
            sources.append((label, path))
    else:
        raise SrlmError("give two artifact paths, or one path with one or two --rev")
    (before, old_path), (after, new_path) = sources
    old, old_manifest = scan_artifact(old_path)
    new, new_manifest = scan_artifact(new_path)
    if old_manifest["schema"] != new_manifest["schema"]:
        raise SrlmError(
            f"{before} is a '{old_manifest['schema']}' artifact, {after} is a "
            f"'{new_manifest['schema']}' one: diff compares artifacts of one kind"
        )
    try:
        report = diff_frames(old, new, new_manifest["schema"], limit=args.limit)
    except pl.exceptions.PolarsError as err:  # a shard whose data pages are damaged
        raise SrlmError(
            f"{before} vs {after}: unreadable parquet data ({one_line(err, 200)}); "
            "rebuild the artifact with `dvc repro`"
        ) from None
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(format_report(report, before, after))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from srlm.tools.export import export_frame

    kind = read_manifest(args.path)["schema"]
    frame = read_artifact(args.path, kind)
    out = export_frame(frame, kind, args.out, args.format)
    print(f"{args.path} ({kind}, {frame.height} rows) -> {out} [{args.format}]")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from srlm.evaluation.report import collect, comparisons, markdown

    params = load_params(args.params)
    models = args.model or list(params.evaluation.models)
    root = Path(args.metrics_dir)
    if not root.is_dir():
        raise SrlmError(f"{root}: no metrics folder (run dvc repro, or pass --metrics-dir)")
    text = markdown(collect(root, models), paired=comparisons(root, models, params.iterations))
    if args.out:
        out = Path(args.out)
        if out.exists() and not args.force:
            raise SrlmError(f"{out} exists; pass --force to replace it")
        out.write_text(text)
    print(text, end="")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from srlm.tools import comparison_report as render
    from srlm.tools.metrics_sources import read_side
    from srlm.tools.run_comparison import compare, summarize

    a_label, a_files = read_side(args.a, args.metrics_dir)
    b_label, b_files = read_side(args.b, args.metrics_dir)
    rows = compare(a_files, b_files)
    _, verdict, code = summarize(rows, args.allow_count_changes)
    if args.quiet:
        print(verdict)
    elif args.format == "json":
        print(render.json_report(rows, a_label, b_label, args.allow_count_changes), end="")
    else:
        fmt = render.markdown_report if args.format == "md" else render.text_report
        print(fmt(rows, a_label, b_label, args.all, args.allow_count_changes), end="")
    return code


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


def cmd_params(args: argparse.Namespace) -> int:
    if args.explain:
        print(explain())
        return 0
    print(json.dumps(as_dict(load_params(args.file)), indent=2))
    return 0


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
