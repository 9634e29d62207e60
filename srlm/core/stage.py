"""One declaration per stage: its flags, what each path holds, the params it depends on.

A stage script declares itself once, as a `StageSpec`, and everything else follows from that:

    SPEC = StageSpec(
        name="candidates", doc=__doc__,
        options={"iteration": text("the iteration, e.g. m2")},
        inputs={"model": model("the iteration's base model"), "prompts": artifact("prompts")},
        params=("candidates", "engine"),
        outputs={"out": artifact("candidates")},
        metrics=("metrics",),
    )
    stage = SPEC.start()               # argparse from the flags, the params file read and checked
    prompts = stage.read("prompts")    # read and validated against the declared schema
    fp = stage.fingerprint()           # the declared params + the declared inputs, by content
    stage.write("out", frame, fp)      # validated against the declared schema, written atomically

The fingerprint's rule (`fingerprint_parts`): each entry of `params` adds a key to the payload,
a whole group under its name (`candidates: {...}`, less its `unhashed` keys) and a single key
under the key's own name (`evaluation.shard_size` -> `shard_size`); an `iteration` option adds
`iteration` (every seed of an iteration is scoped by its name); the inputs are the declared
input flags with `hashed=True`, in declaration order. A stage whose fingerprint has always been
built otherwise (pairs, anchors, seed, eval_prompts) declares `payload` and `hashed_inputs`
functions instead: fingerprints are never changed by a refactoring, or every artifact of a run
would change its bytes. `params` is exactly the stage's `params:` in dvc.yaml, and the flags'
paths in its `cmd` are its `deps`, `outs`, `metrics` and `plots` (tests/test_dvc_yaml.py).

Stages with their own write path (resumable shards, the seed set written all or nothing, model
folders, the report) use the declaration for flags, params and the fingerprint only.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from srlm.core.artifacts import (
    PendingArtifact,
    read_artifact,
    write_artifact,
    write_metrics,
    write_table,
)
from srlm.core.fingerprints import HUB_PREFIX, fingerprint, local_dataset
from srlm.core.params import Params, as_dict, load_params

# What a path flag holds, besides an artifact schema's name (see srlm.core.schemas).
MODEL, FILE, FOLDER = "model", "file", "folder"
# What a flag that is no path holds.
TEXT, SWITCH = "text", "switch"


@dataclass(frozen=True)
class Arg:
    """One flag: `kind` is an artifact schema name, `model`, `file` or `folder` for a path,
    `text` or `switch` otherwise. `many`: the flag may repeat. `hashed`: an input that counts
    in the fingerprint (inputs that only feed metrics do not)."""

    kind: str
    help: str = ""
    required: bool = True
    many: bool = False
    hashed: bool = True


def artifact(schema: str, help: str = "", required: bool = True, hashed: bool = True) -> Arg:
    """A dataset artifact, read or written as schema `schema`."""
    return Arg(schema, help, required, hashed=hashed)


def model(help: str = "", hashed: bool = True) -> Arg:
    """A model folder (counted by its recorded content hash)."""
    return Arg(MODEL, help, hashed=hashed)


def file(help: str = "", required: bool = True, many: bool = False) -> Arg:
    """A plain file (or a `hf://` dataset where the stage reads them)."""
    return Arg(FILE, help, required, many)


def folder(help: str = "") -> Arg:
    """A folder that is no artifact (plots, CSVs)."""
    return Arg(FOLDER, help)


def text(help: str = "", required: bool = True) -> Arg:
    """A value that is no path (a name)."""
    return Arg(TEXT, help, required)


def switch(help: str = "") -> Arg:
    """An on/off flag."""
    return Arg(SWITCH, help, required=False)


Payload = Callable[[Params, argparse.Namespace], Any]
Inputs = Callable[[Params, argparse.Namespace], list[str]]


@dataclass(frozen=True)
class StageSpec:
    """A stage's declaration; see the module docstring. Flags are named without `--` and with
    `_` for `-` (`eft_eval` is `--eft-eval`)."""

    name: str
    doc: str
    inputs: Mapping[str, Arg]
    params: tuple[str, ...]
    outputs: Mapping[str, Arg]
    metrics: tuple[str, ...] = ()
    plots: tuple[str, ...] = ()
    options: Mapping[str, Arg] = field(default_factory=dict)
    one_of: tuple[str, ...] = ()  # exactly one of these flags (argparse's exclusive group)
    unhashed: tuple[str, ...] = ()  # `group.key`s the fingerprint leaves out
    hashed_as: Mapping[str, str] = field(default_factory=dict)  # `group.key` -> payload key
    payload: Payload | None = None  # the fingerprint's params, where not the rule's
    hashed_inputs: Inputs | None = None  # the fingerprint's inputs, where not the rule's
    # `hf://` inputs: a hub name counts by name (`remote`), a local folder by content
    hub: bool = False

    def flags(self) -> dict[str, Arg]:
        """Every flag of the stage: options, inputs, outputs, then metrics and plots."""
        outs = {name: Arg(FILE, "DVC metrics (JSON)") for name in self.metrics}
        outs |= {name: Arg(FILE, "DVC plots data (CSV)") for name in self.plots}
        return {**self.options, **self.inputs, **self.outputs, **outs}

    def parser(self) -> argparse.ArgumentParser:
        """The stage's command line, built from its flags."""
        parser = argparse.ArgumentParser(description=self.doc.splitlines()[0])
        parser.add_argument("--params", default="params.yaml")
        # argparse: a member of a required exclusive group is itself optional
        group: Any = parser.add_mutually_exclusive_group(required=True) if self.one_of else None
        flags = self.flags()
        # the exclusive flags first and together, so the usage line shows them as a choice
        for name in [*self.one_of, *(n for n in flags if n not in self.one_of)]:
            arg, flag = flags[name], "--" + name.replace("_", "-")
            where: Any = group if name in self.one_of else parser
            required = arg.required and name not in self.one_of
            if arg.kind == SWITCH:
                where.add_argument(flag, action="store_true", help=arg.help)
            elif arg.many:
                where.add_argument(
                    flag,
                    action="append",
                    required=required,
                    default=None if arg.required else [],
                    help=arg.help,
                )
            else:
                where.add_argument(flag, required=required, help=arg.help)
        return parser

    def start(self, argv: list[str] | None = None) -> StageRun:
        """Parse the command line (`argv`, default sys.argv) and read the params file."""
        args = self.parser().parse_args(argv)
        return StageRun(self, args, load_params(args.params))


def rule_payload(spec: StageSpec, params: Params, args: argparse.Namespace) -> dict:
    """The fingerprint's params by the module's rule (declared params, less `unhashed`, keys
    renamed by `hashed_as`, plus the iteration)."""
    payload: dict[str, Any] = {}
    for entry in spec.params:
        group, _, key = entry.partition(".")
        value = getattr(params, group)
        if key:
            payload[spec.hashed_as.get(entry, key)] = getattr(value, key)
            continue
        payload[group] = {
            spec.hashed_as.get(f"{group}.{k}", k): v
            for k, v in as_dict(value).items()
            if f"{group}.{k}" not in spec.unhashed
        }
    if "iteration" in spec.options:
        payload["iteration"] = args.iteration
    return payload


def rule_inputs(spec: StageSpec, args: argparse.Namespace) -> list[str]:
    """The fingerprint's inputs by the rule: the hashed input flags given, in declared order."""
    paths: list[str] = []
    for name, arg in spec.inputs.items():
        value = getattr(args, name)
        if arg.hashed and value:
            paths += value if arg.many else [value]
    return paths


def fingerprint_parts(
    spec: StageSpec, params: Params, args: argparse.Namespace, inputs: list[str] | None = None
) -> tuple[Any, list[str], dict]:
    """(params payload, input paths, extra identity) of the stage's fingerprint: `inputs`
    when given, else the declared ones. Tests compare these with the payloads of before."""
    payload = (spec.payload or (lambda p, a: rule_payload(spec, p, a)))(params, args)
    if inputs is None:
        inputs = spec.hashed_inputs(params, args) if spec.hashed_inputs else rule_inputs(spec, args)
    extra: dict[str, Any] = {}
    if spec.hub:
        # A name that `datasets` reads from a local folder stays an input, in its place,
        # hashed by content (`input_hash`); only a real hub name is identity by name.
        remote = [p for p in inputs if p.startswith(HUB_PREFIX) and local_dataset(p) is None]
        extra["remote"] = remote
        inputs = [p for p in inputs if p not in remote]
    return payload, inputs, extra


@dataclass
class StageRun:
    """A running stage: its declaration, parsed flags and params; reads and writes by flag."""

    spec: StageSpec
    args: argparse.Namespace
    params: Params

    def path(self, name: str) -> Any:
        """The value of flag `name` (a path, a list of paths for a repeated flag, or None)."""
        return getattr(self.args, name)

    def schema(self, name: str) -> str:
        """The artifact schema declared for flag `name`."""
        return {**self.spec.inputs, **self.spec.outputs}[name].kind

    def read(self, name: str) -> pl.DataFrame:
        """The artifact at input `name`, validated against its declared schema."""
        return read_artifact(self.path(name), self.schema(name))

    def fingerprint(self, inputs: list[str] | None = None, **extra: Any) -> str:
        """The fingerprint of the stage's outputs (`fingerprint_parts`; `extra` adds identity
        that is no local file, e.g. an endpoint's model)."""
        payload, paths, declared = fingerprint_parts(self.spec, self.params, self.args, inputs)
        return fingerprint(payload, inputs=paths, **declared, **extra)

    def write(self, name: str, frame: pl.DataFrame, fp: str, meta: dict | None = None) -> Path:
        """Write output `name` as its declared schema (validated, atomic); `meta` adds keys
        to its manifest (its `srlm.core.lineage`)."""
        return write_artifact(frame, self.path(name), self.schema(name), fp, meta)

    def pending(
        self, name: str, frame: pl.DataFrame, fp: str, meta: dict | None = None
    ) -> PendingArtifact:
        """Output `name`, to be written with others all or nothing (`write_artifacts`);
        `meta` adds keys to its manifest, as in `write`."""
        return PendingArtifact(frame, self.path(name), self.schema(name), fp, meta)

    def write_metrics(self, metrics: dict, name: str = "metrics") -> None:
        """Write metrics flag `name` as DVC metrics JSON."""
        write_metrics(self.path(name), metrics)

    def write_table(self, name: str, frame: pl.DataFrame) -> None:
        """Write output `name` as a CSV table."""
        write_table(self.path(name), frame)
