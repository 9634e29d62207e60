"""The `srlm` command: look at and check the artifacts the pipeline builds.

    srlm show data/seed/eft            schema, manifest and first rows of an artifact
    srlm validate data/seed/eft        validate every row; exit 1 with the violations
    srlm params                        the effective params (defaults filled in), checked

The pipeline itself runs with `dvc repro`.
"""

from __future__ import annotations

import argparse
import json
import sys

import polars as pl

from srlm import __version__
from srlm.config import as_dict, load_params
from srlm.errors import SrlmError
from srlm.io import read_artifact, read_manifest

EXAMPLES = """examples:
  srlm show data/seed/eft --rows 3
  srlm validate data/seed/ift && echo valid
  srlm params --file params.yaml
"""


def cmd_show(args: argparse.Namespace) -> int:
    manifest = read_manifest(args.path)
    frame = read_artifact(args.path)
    print(f"{args.path}: {manifest['schema']} v{manifest['schema_version']}, "
          f"{manifest['rows']} rows, fingerprint {manifest['fingerprint']}")
    print("columns: " + ", ".join(f"{k}: {v}" for k, v in manifest["columns"].items()))
    print("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(manifest["versions"].items())))
    with pl.Config(fmt_str_lengths=args.width, tbl_rows=args.rows, tbl_cols=-1):
        print(frame.head(args.rows))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    frame = read_artifact(args.path)  # raises with the violations
    print(f"{args.path}: valid ({frame.height} rows)")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    print(json.dumps(as_dict(load_params(args.file)), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srlm", description=__doc__.splitlines()[0], epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"srlm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="schema, manifest and first rows of an artifact",
                          epilog="example: srlm show data/seed/eft --rows 3",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("path", help="artifact directory (holds _manifest.json)")
    show.add_argument("--rows", type=int, default=5, help="rows to print (default 5)")
    show.add_argument("--width", type=int, default=60, help="characters per text cell")
    show.set_defaults(func=cmd_show)
    validate = sub.add_parser("validate", help="validate an artifact against its schema",
                              epilog="example: srlm validate data/seed/ift")
    validate.add_argument("path", help="artifact directory")
    validate.set_defaults(func=cmd_validate)
    params = sub.add_parser("params", help="print the checked params with defaults filled in",
                            epilog="example: srlm params --file params.yaml")
    params.add_argument("--file", default="params.yaml")
    params.set_defaults(func=cmd_params)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SrlmError as err:
        print(f"srlm {args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
