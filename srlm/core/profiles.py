"""Profiles: files of params overrides, merged over a params file by one function.

A profile (`profiles/*.yaml`) names only the keys it changes. `params.yaml` chooses one with its
top-level key `profile:` (the default, `profiles/default.yaml`, changes nothing), so DVC runs a
profile without any copy of it over params.yaml:

    dvc exp run -S profile=profiles/paper.yaml     # one experiment under the paper's profile
    srlm params --file profiles/paper.yaml         # the params it gives, every key

Every stage lists `${profile}` among its deps, so editing the profile in use, or choosing
another, reruns what it may change. `merge_overrides` is the merge, here and in the study runner
(studies/): a group's keys replace the base's one by one (nested groups such as `sft.lora`
too), lists are replaced whole, and `iterations` is replaced whole (its keys are iteration
names: a profile that lists only `m2` runs M1 -> M2). A key the base does not know is an error
naming the file and the key, so a typo never runs the defaults silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from srlm.core.validation import ParamsError

PROFILE_KEY = "profile"
# Replaced whole, never merged key by key: their keys are names the user picks.
WHOLE_GROUPS = ("iterations",)


def merge_overrides(base: dict, overrides: dict, source: str | Path, where: str = "") -> dict:
    """`base` with `overrides` (from the file `source`) applied, as a new dict."""
    merged = dict(base)
    for key, value in overrides.items():
        name = f"{where}.{key}" if where else str(key)
        if key not in base:
            raise ParamsError(f"{source}: unknown key '{name}' (the params have no such key)")
        if isinstance(base[key], dict) and name not in WHOLE_GROUPS:
            if not isinstance(value, dict):
                raise ParamsError(
                    f"{source}: '{name}' must be a mapping of keys, got {type(value).__name__}"
                )
            merged[key] = merge_overrides(base[key], value, source, name)
        else:
            merged[key] = value
    return merged


def profile_path(params_file: Path, named: Any) -> Path:
    """The profile a params file names, relative to the params file's folder."""
    if not isinstance(named, str) or not named.strip():
        raise ParamsError(
            f"{params_file}: '{PROFILE_KEY}' must be the path of a profile file, got {named!r}"
        )
    path = Path(named)
    return path if path.is_absolute() else params_file.parent / path
