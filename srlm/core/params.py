"""One source for every value: typed, frozen params read from a params file.

`load_params("params.yaml")` returns a `Params`, one frozen dataclass per group (`SeedParams`,
`SFTParams`, ...); a stage reads only its own groups. The groups (srlm.core.params_models,
params_training, params_loop, params_scoring, params_eval, params_scale) hold every default and
every key's help text (`srlm params --explain` prints them); import them from here. Their
range checks are in srlm.core.validation.

A params file holds overrides: a missing key, or a missing group, takes the default, and an
empty file is all defaults. `params.yaml` spells out every value (it equals `Params()`, a test
pins the two) and names the profile merged over it (`profile:`, see srlm.core.profiles;
`profiles/default.yaml` changes nothing, `profiles/paper.yaml` gives the paper's sizes). A
mapping value (`iterations`) replaces the default mapping as a whole.

Errors are one line naming the key, so a typo never silently falls back to a default: unknown
keys (`sft.learnig_rate`), renamed keys (`sft.seed was renamed to sft.random_seed`), values of
the wrong type, values outside a `Literal`'s choices, values out of range.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from srlm.core.bounded_read import PARAMS_LIMIT, read_text
from srlm.core.params_endpoint import EndpointSettings, TeacherParams
from srlm.core.params_eval import EvaluationParams, EvaluatorParams, IFEvalParams
from srlm.core.params_loop import (
    CandidatesParams,
    IterationSpec,
    PromptsParams,
    check_iterations,
)
from srlm.core.params_models import BaseModelParams, EngineParams, SeedParams
from srlm.core.params_scale import AccelerateParams, ScaleParams
from srlm.core.params_scoring import JudgeParams, MonitorsParams, PairsParams
from srlm.core.params_training import DPOParams, LoraParams, SFTParams, TrainingParams
from srlm.core.profiles import PROFILE_KEY, merge_overrides, profile_path
from srlm.core.validation import InvalidValue, ParamsError

__all__ = [
    "AccelerateParams",
    "BaseModelParams",
    "CandidatesParams",
    "DPOParams",
    "EndpointSettings",
    "EngineParams",
    "EvaluationParams",
    "EvaluatorParams",
    "IFEvalParams",
    "IterationSpec",
    "JudgeParams",
    "LoraParams",
    "MonitorsParams",
    "PairsParams",
    "Params",
    "ParamsError",
    "PromptsParams",
    "SFTParams",
    "ScaleParams",
    "SeedParams",
    "TeacherParams",
    "TrainingParams",
    "as_dict",
    "from_dict",
    "load_params",
]

# Keys that were renamed: a params file that still uses the old name gets a one-line error.
RENAMED = {"seed": "random_seed", "fewshot_seed": "fewshot_from_seed"}


def _doc(cls: type) -> str:
    return (cls.__doc__ or "").splitlines()[0]


def _group(cls: type) -> Any:
    return field(default_factory=cls, metadata={"help": _doc(cls)})


@dataclass(frozen=True)
class Params:
    """Every params group: the whole of a params file."""

    base: BaseModelParams = _group(BaseModelParams)
    seed: SeedParams = _group(SeedParams)
    teacher: TeacherParams = _group(TeacherParams)
    sft: SFTParams = _group(SFTParams)
    engine: EngineParams = _group(EngineParams)
    scale: ScaleParams = _group(ScaleParams)
    prompts: PromptsParams = _group(PromptsParams)
    candidates: CandidatesParams = _group(CandidatesParams)
    judge: JudgeParams = _group(JudgeParams)
    pairs: PairsParams = _group(PairsParams)
    dpo: DPOParams = _group(DPOParams)
    accelerate: AccelerateParams = _group(AccelerateParams)
    monitors: MonitorsParams = _group(MonitorsParams)
    iterations: dict[str, IterationSpec] = field(
        default_factory=lambda: {"m2": IterationSpec("m1"), "m3": IterationSpec("m2")},
        metadata={
            "help": "The self-rewarding loop: each iteration (m2, m3, ...) starts from "
            "its `base`. Add `m4: {base: m3}` for another round."
        },
    )
    evaluation: EvaluationParams = _group(EvaluationParams)
    ifeval: IFEvalParams = _group(IFEvalParams)
    evaluator: EvaluatorParams = _group(EvaluatorParams)
    profile: str | None = field(
        default=None,
        metadata={
            "help": "A profile (profiles/*.yaml, overrides only) merged over this file's "
            "values, e.g. `dvc exp run -S profile=profiles/paper.yaml`. Its path is "
            "relative to this file; params.yaml names profiles/default.yaml (no overrides)."
        },
    )

    def __post_init__(self):
        check_iterations(self.iterations)
        if self.seed.eft_mode == "model_rationales" and not self.teacher.named():
            raise ParamsError(
                "seed.eft_mode: model_rationales needs a teacher: set teacher.model (a local "
                "model directory, e.g. data/models/m0) or teacher.endpoint"
            )
        # Head-to-head compares each iteration with its base: both need answers.
        for name, spec in self.iterations.items():
            for model in (name, spec.base):
                if model not in self.evaluation.models:
                    raise ParamsError(
                        f"evaluation.models: '{model}' (from iterations.{name}) is missing: "
                        "every model in the loop is evaluated, add it to the list"
                    )


def _convert(value: Any, annotation: Any, key: str) -> Any:
    """Check `value` against a field annotation, converting lists to tuples and ints to floats."""
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ParamsError(f"{key}: expected a mapping, got {type(value).__name__}")
        return from_dict(annotation, value, key)
    if origin is typing.Literal:
        choices = typing.get_args(annotation)
        if value not in choices:
            raise ParamsError(
                f"{key}: expected one of {', '.join(map(repr, choices))}, got {value!r}"
            )
        return value
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, key)
            except ParamsError as err:
                errors.append(str(err))
        raise ParamsError(errors[0])
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{key}: expected a mapping, got {type(value).__name__}")
        (_, item_type) = typing.get_args(annotation)
        return {str(k): _convert(v, item_type, f"{key}.{k}") for k, v in value.items()}
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ParamsError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
        (item_type, _) = typing.get_args(annotation)
        return tuple(_convert(v, item_type, f"{key}[{i}]") for i, v in enumerate(value))
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, float) and not math.isfinite(value):
        raise ParamsError(f"{key}: expected a finite number, got {value!r}")
    if annotation in (int, float) and isinstance(value, bool):
        raise ParamsError(f"{key}: expected {annotation.__name__}, got bool {value!r}")
    if annotation in (int, float, str, bool) and not isinstance(value, annotation):
        raise ParamsError(
            f"{key}: expected {annotation.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def from_dict(cls: type, data: dict, where: str = "") -> Any:
    """Build dataclass `cls` from a mapping of overrides; errors name the key."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    prefix = f"{where}." if where else ""
    for key in data:
        if key not in fields:
            if RENAMED.get(key) in fields:
                raise ParamsError(f"{prefix}{key} was renamed to {prefix}{RENAMED[key]}")
            raise ParamsError(
                f"unknown key '{prefix}{key}' (expected one of: {', '.join(sorted(fields))})"
            )
    for name, f in fields.items():
        if name not in data and f.default is f.default_factory is dataclasses.MISSING:
            raise ParamsError(f"{prefix}{name}: missing (it has no default)")
    kwargs = {key: _convert(value, hints[key], f"{prefix}{key}") for key, value in data.items()}
    try:
        return cls(**kwargs)
    except InvalidValue as err:
        if not where:
            raise
        raise ParamsError(f"{where}.{err.name}: {err.reason}") from None


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, line: int, first: int):
        super().__init__(
            f"{line}: duplicate key '{key}' (first at line {first}; YAML would "
            "silently keep the last)"
        )


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key given twice in one mapping is an error (plain YAML lets
    the last one silently win)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, typing.Hashable) and key in seen:
                raise _DuplicateKey(key, line, seen[key])
            seen[key] = line
        return super().construct_mapping(node, deep)


def _read_file(path: Path) -> dict:
    """A params file's mapping (the file may hold nothing: all defaults)."""
    # Bounded: a FIFO, a device or a huge file named as params is one error, never a hang.
    text = read_text(path, "params file", PARAMS_LIMIT, error=ParamsError)
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader) or {}
    except _DuplicateKey as err:
        raise ParamsError(f"{path}:{err}") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of params groups at the top level")
    return data


def _checked(path: Path, data: dict) -> Params:
    try:
        return from_dict(Params, data)
    except ParamsError as err:
        raise ParamsError(f"{path}: {err}") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and check a params file, and the profile it names (`profile:`, merged over it by
    `srlm.core.profiles.merge_overrides`); errors are `ParamsError` naming the file and key."""
    path = Path(path)
    params = _checked(path, _read_file(path))
    if params.profile is None:
        return params
    profile = profile_path(path, params.profile)
    overrides = _read_file(profile)
    if PROFILE_KEY in overrides:  # one level: a profile is a set of overrides, not a chain
        raise ParamsError(f"{profile}: a profile cannot name another profile ('{PROFILE_KEY}')")
    _checked(profile, overrides)  # its keys and values, with errors naming the profile
    merged = merge_overrides(as_dict(params), overrides, profile)
    return _checked(profile, merged)


def as_dict(config: Any) -> dict:
    """A plain dict of a config dataclass (for fingerprints and manifests)."""
    return dataclasses.asdict(config)
