"""A fresh clone runs by itself: the data stages build from the repository's own files, with
no `../shared` beside it, through `dvc` exactly as the README writes it (venv activated)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from srlm.core.artifacts import read_artifact
from tests.helpers import ROOT

pytestmark = pytest.mark.integration


def clone(target: Path) -> Path:
    """The files a `git clone` of this checkout would have (tracked and new, not ignored)."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "clone"]):
        subprocess.run([*git, *args], cwd=target, check=True)
    return target


def readme_shell(project: Path, command: str) -> subprocess.CompletedProcess:
    """`command` run as the README says: in a shell whose venv is activated."""
    activate = Path(sys.prefix) / "bin" / "activate"
    assert activate.is_file(), f"tests run from a venv ({activate} is missing)"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    # the clone's own code, as in a user's editable install of their clone
    env.update(HF_HUB_OFFLINE="1", PYTHONPATH=str(project))
    return subprocess.run(
        ["bash", "-c", f"source {activate} && {command}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_data_stages_run_in_a_clone_without_shared_data(tmp_path):
    (tmp_path / "work" / "srlm").mkdir(parents=True)
    project = clone(tmp_path / "work" / "srlm")
    assert not (project.parent / "shared").exists()
    result = readme_shell(project, "dvc repro seed eval_prompts")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Running stage 'seed'" in result.stdout
    assert "Running stage 'eval_prompts'" in result.stdout
    seed = json.loads((project / "metrics" / "seed.json").read_text())
    assert seed["decontaminated_prompts"] == 22  # 6 trees + 16 oasst2 prompts (data/raw README)
    for name in ("ift", "eft", "eft_eval"):
        assert read_artifact(project / "data" / "seed" / name).height > 0
    prompts = read_artifact(project / "data" / "eval" / "prompts", "eval_prompts")
    limit = yaml.safe_load((project / "params.yaml").read_text())["evaluation"]["reference_limit"]
    assert prompts["reference"].is_not_null().sum() >= limit
    assert "human-rank0" in set(prompts["reference_model"])
    status = readme_shell(project, "dvc status seed eval_prompts")
    assert status.returncode == 0 and "changed" not in status.stdout, status.stdout
