"""`srlm params --explain`: every params key with its type, default and help text."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from srlm.core.params import Params


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return "|".join(map(str, args))
    if origin in (types.UnionType, typing.Union):
        return " or ".join("null" if a is type(None) else _type_name(a) for a in args)
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if dataclasses.is_dataclass(annotation):
        return "group"
    if origin is dict:  # iterations: name -> {base: ...}
        keys = ", ".join(f.name for f in dataclasses.fields(args[1]))
        return f"mapping of name to {{{keys}}}"
    return annotation.__name__


def _yaml(value: Any) -> str:
    """`value` as it is written in a params file (flow style)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(_yaml, value)) + "]"
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(value) if value != "" else "''"


def _explain_fields(cls: type, where: str, instance: Any | None) -> list[str]:
    hints = typing.get_type_hints(cls)
    lines = []
    for f in dataclasses.fields(cls):
        key, annotation = f"{where}.{f.name}", hints[f.name]
        shown = "required" if instance is None else f"default {_yaml(getattr(instance, f.name))}"
        lines.append(f"{key}  ({_type_name(annotation)}, {shown})  {f.metadata['help']}")
        if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):  # lora
            lines += _explain_fields(annotation, key, getattr(instance, f.name, None))
    return lines


def explain() -> str:
    """Every key as `group.key  (type, default X)  help`, grouped per params group."""
    defaults = Params()
    hints = typing.get_type_hints(Params)
    blocks = []
    for group in dataclasses.fields(Params):
        annotation, value = hints[group.name], getattr(defaults, group.name)
        lines = [f"{group.name}: {group.metadata['help']}"]
        if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
            lines += _explain_fields(annotation, group.name, value)
        else:  # a top-level key (profile), or iterations: the mapping, then one entry
            lines.append(f"{group.name}  ({_type_name(annotation)}, default {_yaml(value)})")
            if typing.get_origin(annotation) is dict:
                entry = typing.get_args(annotation)[1]
                lines += _explain_fields(entry, f"{group.name}.<name>", None)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
