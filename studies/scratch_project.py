"""What the study scripts share: a profile merged over params.yaml, and a scratch copy of the
project that runs the real pipeline with `dvc repro`.

    from scratch_project import merged_params, project_copy, dvc_command

A profile (profiles/*.yaml) holds overrides only, merged over params.yaml by
`srlm.core.profiles.merge_overrides` (the merge `load_params` applies to `profile:`): a group's
keys one by one, lists and `iterations` whole; a key that params.yaml does not have is an error
naming the profile file and the key. The scratch project's params.yaml is the merged result.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # srlm from this checkout, as the copied stages use it
from srlm.core.profiles import merge_overrides  # noqa: E402  (after the path above)
from srlm.core.validation import ParamsError  # noqa: E402

# What a stage reads: the graph, its scripts, the library, the shipped data, accelerate configs.
PROJECT_DIRS = ("stages", "srlm", "data/raw", "accelerate", "profiles")
PROJECT_FILES = ("dvc.yaml", ".dvcignore")
# The checkout's params.yaml as the copy's code was written for it: what a resumed run merges
# its profile over (this checkout's params.yaml may have groups the copied code does not know).
DEFAULTS_FILE = "params.defaults.yaml"


class ProfileError(ValueError):
    """A profile that cannot be merged; the message names the file and the key."""


def merged_params(profile: Path, defaults: Path | None = None) -> dict:
    """params.yaml (or `defaults`) with the profile's overrides applied, by the merge every
    params file uses (`srlm.core.profiles.merge_overrides`)."""
    params = yaml.safe_load((defaults or ROOT / "params.yaml").read_text(encoding="utf-8"))
    try:
        overrides = yaml.safe_load(Path(profile).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ProfileError(f"{profile}: no such profile file") from None
    except yaml.YAMLError as err:
        raise ProfileError(f"{profile}: not valid YAML: {err}".splitlines()[0]) from None
    if not isinstance(overrides, dict):
        raise ProfileError(f"{profile}: expected a mapping of params groups at the top level")
    try:
        return merge_overrides(params, overrides, profile)
    except ParamsError as err:
        raise ProfileError(str(err)) from None


def write_params(folder: Path, params: dict) -> None:
    """`params` (merged already) as the project's params.yaml."""
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


def project_copy(folder: Path, params: dict) -> Path:
    """The pipeline's code and data in `folder` with `params` as its params.yaml; no outputs,
    so `dvc repro` there builds everything from scratch."""
    ignore = shutil.ignore_patterns("__pycache__")
    for name in PROJECT_DIRS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, folder / name, ignore=ignore)
    for name in PROJECT_FILES:
        shutil.copy(ROOT / name, folder / name)
    shutil.copy(ROOT / "params.yaml", folder / DEFAULTS_FILE)
    write_params(folder, params)
    return folder


def dvc_command(*args: str) -> list[str]:
    """`dvc` from this interpreter's environment (the project's venv), whatever PATH says."""
    return [str(Path(sys.executable).parent / "dvc"), *args]


def dvc_env(project: Path) -> dict:
    """The stages import srlm from the copy (not an installed one) and never reach the hub;
    unbuffered, so their output streams as it is written."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PYTHONPATH": str(project),
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
