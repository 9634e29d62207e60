"""What each `srlm` subcommand does (srlm.cli parses the command line and calls these; each
returns the exit status, and an error is one line, printed by `srlm.cli.main`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path

import polars as pl

from srlm.core.artifacts import read_artifact, read_manifest, scan_artifact
from srlm.core.console import one_line
from srlm.core.errors import SrlmError
from srlm.core.params import as_dict, load_params
from srlm.core.params_help import explain


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


def cmd_params(args: argparse.Namespace) -> int:
    if args.explain:
        print(explain())
        return 0
    print(json.dumps(as_dict(load_params(args.file)), indent=2))
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    from srlm.tools.view import write_view

    out = write_view(
        args.data, args.iterations, args.out, args.page_size, args.models, args.metrics
    )
    print(f"wrote {out / 'index.html'}")
    return 0
