"""Training under `accelerate launch`: the batch split, the launch command, the shipped
accelerate configs, and 2 gloo processes on this CPU training the same model as 1."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srlm.core.errors import SrlmError
from srlm.core.params import AccelerateParams, ParamsError
from srlm.training.launch import launch_command, per_process_batch, relaunch
from tests.helpers import ROOT, assert_trained_alike, run_stage

CONFIGS = ROOT / "accelerate"


@pytest.mark.parametrize(
    ("batch", "accum", "processes", "expected"),
    [
        (4, 2, 2, (4, 1)),  # accumulation steps are divided first: micro-batches as in params
        (4, 4, 2, (4, 2)),
        (4, 1, 2, (2, 1)),  # else the batch
        (8, 1, 8, (1, 1)),
        (3, 3, 1, (3, 3)),
    ],
)
def test_the_global_batch_stays_what_params_say(batch, accum, processes, expected):
    got = per_process_batch(batch, accum, processes, "sft")
    assert got == expected and got[0] * got[1] * processes == batch * accum


def test_a_batch_the_processes_cannot_share_is_a_one_line_error():
    with pytest.raises(
        SrlmError,
        match=r"^sft.batch_size x sft.grad_accum = 3 x 1 cannot be "
        r"shared evenly by accelerate.processes=2",
    ):
        per_process_batch(3, 1, 2, "sft")


def test_launch_command_carries_the_params_and_the_stage_arguments():
    plain = launch_command(AccelerateParams(processes=2), "stages/sft.py", ["--out", "m1"])
    assert plain[1:3] == ["-m", "accelerate.commands.launch"]
    assert plain[plain.index("--num_processes") + 1] == "2" and "--multi_gpu" in plain
    assert plain[-3:] == ["stages/sft.py", "--out", "m1"]
    fsdp = launch_command(
        AccelerateParams(processes=16, machines=2, config_file=str(CONFIGS / "fsdp.yaml")),
        "s.py",
        [],
    )
    assert fsdp[fsdp.index("--config_file") + 1] == str(CONFIGS / "fsdp.yaml")
    assert fsdp[fsdp.index("--num_machines") + 1] == "2" and "--multi_gpu" not in fsdp
    with pytest.raises(SrlmError, match="accelerate.config_file: nowhere.yaml does not exist"):
        launch_command(AccelerateParams(processes=2, config_file="nowhere.yaml"), "s.py", [])


def test_one_process_runs_in_place():
    assert relaunch(AccelerateParams(), "stages/sft.py", []) is False


def test_processes_must_split_over_machines():
    with pytest.raises(ParamsError, match="accelerate.processes: 3 processes do not split"):
        AccelerateParams(processes=3, machines=2)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ddp", {}),
        (
            "fsdp",
            {
                "ACCELERATE_USE_FSDP": "true",
                "FSDP_VERSION": "2",
                "FSDP_STATE_DICT_TYPE": "FULL_STATE_DICT",
                "FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP",
            },
        ),
        (
            "zero3",
            {
                "ACCELERATE_USE_DEEPSPEED": "true",
                "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3",
                "ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL": "true",
            },
        ),
    ],
)
def test_shipped_accelerate_configs_are_valid_for_accelerate_launch(name, expected):
    """Each config goes through accelerate's own launch validation and becomes the process
    environment its launcher would set (the run itself needs GPUs)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    args = launch_command_parser().parse_args(
        ["--config_file", str(CONFIGS / f"{name}.yaml"), "--num_processes", "2", "x.py"]
    )
    args, _, _ = _validate_launch_command(args)
    assert args.num_processes == 2  # params override the file's 8
    if name == "zero3":
        args.deepspeed_fields_from_accelerate_config = ""
        _, env = prepare_deepspeed_cmd_env(args)
    else:
        env = prepare_multi_gpu_env(args)
    assert {k: env.get(k) for k in expected} == expected


def test_an_unknown_key_in_an_accelerate_config_is_rejected(tmp_path):
    from accelerate.commands.config.config_args import load_config_from_file

    bad = tmp_path / "bad.yaml"
    bad.write_text((CONFIGS / "ddp.yaml").read_text() + "num_procesess: 2\n")
    with pytest.raises(ValueError, match="unknown keys.*num_procesess"):
        load_config_from_file(str(bad))


def train(tmp_path: Path, name: str, model_dir, seed_dir: Path, launch: str, params: str):
    params_path = tmp_path / f"{name}.yaml"
    params_path.write_text(params + launch)
    result = run_stage(
        "sft",
        "--params",
        str(params_path),
        "--base",
        str(model_dir),
        "--ift",
        str(seed_dir / "ift"),
        "--eft",
        str(seed_dir / "eft"),
        "--out",
        str(tmp_path / name),
        "--metrics",
        str(tmp_path / f"{name}.json"),
        "--loss",
        str(tmp_path / f"{name}.csv"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def one_vs_many(tmp_path, model_dir, launch: str, processes: int, precision: str = "fp32"):
    """SFT of `model_dir` on 16 seed examples with 1 process, then under `launch`: both runs'
    weights, metrics and stderr. Global batch 4 = 2 x 2: one process accumulates two
    micro-batches of 2, two processes take one each (dropout is 0 in the tiny model)."""
    seed = tmp_path / "seed"
    made = run_stage(
        "seed",
        "--params",
        str(_write(tmp_path / "seed.yaml", "seed:\n  ift_size: 16\n  eft_size: 0\n")),
        "--source",
        str(ROOT / "srlm/seed_data/train.trees.jsonl"),
        "--eval-source",
        str(ROOT / "srlm/seed_data/eval.trees.jsonl"),
        "--ift",
        str(seed / "ift"),
        "--eft",
        str(seed / "eft"),
        "--eft-eval",
        str(seed / "eft-eval"),
        "--metrics",
        str(tmp_path / "s.json"),
    )
    assert made.returncode == 0, made.stderr
    params = (
        "sft:\n  batch_size: 2\n  grad_accum: 2\n  learning_rate: 1.0e-3\n"
        f"  precision: {precision}\n  max_length: 512\n"
    )
    train(tmp_path, "one", model_dir, seed, "", params)
    launched = train(tmp_path, "two", model_dir, seed, launch, params)
    assert f"running sft.py in {processes} processes" in launched.stderr
    weights = [load_file(tmp_path / n / "model.safetensors") for n in ("one", "two")]
    metrics = [json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two")]
    return weights, metrics


@pytest.mark.integration
def test_two_gloo_processes_train_the_model_one_process_trains(tmp_path, tiny_model_dir):
    (one, two), metrics = one_vs_many(
        tmp_path, tiny_model_dir, "accelerate:\n  processes: 2\n", processes=2
    )
    before = load_file(Path(tiny_model_dir) / "model.safetensors")
    assert any(not torch.equal(before[k], one[k]) for k in one)  # it trained
    assert_trained_alike(two, one, learning_rate=1e-3, steps=4)
    assert metrics[0]["steps"] == metrics[1]["steps"] == 4  # 16 examples / 4
    assert metrics[1]["train_loss"] == pytest.approx(metrics[0]["train_loss"], rel=1e-4)
    # written once, by the main process: one header and one row per logged step
    assert len((tmp_path / "two.csv").read_text().splitlines()) == 1 + 4
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("two")) == [
        "two",
        "two.csv",
        "two.json",
        "two.yaml",
    ]


@pytest.mark.integration
def test_two_gloo_processes_run_dpo_like_one(tmp_path, tiny_model_dir):
    _pairs(tmp_path / "pairs", 8)
    params = (
        "dpo:\n  batch_size: 2\n  grad_accum: 2\n  learning_rate: 1.0e-3\n"
        "  precision: fp32\n  max_length: 128\n"
    )
    weights, metrics = [], []
    for name, launch in (("one", ""), ("two", "accelerate:\n  processes: 2\n")):
        (tmp_path / f"{name}.yaml").write_text(params + launch)
        result = run_stage(
            "dpo",
            "--params",
            str(tmp_path / f"{name}.yaml"),
            "--base",
            str(tiny_model_dir),
            "--pairs",
            str(tmp_path / "pairs"),
            "--out",
            str(tmp_path / name),
            "--metrics",
            str(tmp_path / f"{name}.json"),
            "--log",
            str(tmp_path / f"{name}.csv"),
        )
        assert result.returncode == 0, result.stderr[-3000:]
        weights.append(load_file(tmp_path / name / "model.safetensors"))
        metrics.append(json.loads((tmp_path / f"{name}.json").read_text()))
    assert metrics[0]["steps"] == metrics[1]["steps"] == 2  # 8 pairs / global batch 4
    assert metrics[1]["train_loss"] == pytest.approx(metrics[0]["train_loss"], rel=1e-4)
    assert any(
        not torch.equal(weights[0][k], v)
        for k, v in load_file(Path(tiny_model_dir) / "model.safetensors").items()
    )
    assert_trained_alike(weights[1], weights[0], learning_rate=1e-3, steps=2)


def _gpus() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@pytest.mark.gpu
@pytest.mark.parametrize("config", ["ddp", "fsdp", "zero3"])
def test_shipped_configs_train_on_two_gpus_like_one(tmp_path, tiny_model_dir, config):
    if _gpus() < 2:
        pytest.skip("needs 2 CUDA GPUs")
    if config == "zero3" and importlib.util.find_spec("deepspeed") is None:
        pytest.skip("needs deepspeed")
    launch = f"accelerate:\n  processes: 2\n  config_file: {CONFIGS / (config + '.yaml')}\n"
    (one, two), metrics = one_vs_many(tmp_path, tiny_model_dir, launch, processes=2)
    # gathered whole before saving, whatever the sharding
    assert_trained_alike(two, one, learning_rate=1e-3, steps=4)
    assert metrics[0]["steps"] == metrics[1]["steps"]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _pairs(folder: Path, n: int) -> Path:
    import polars as pl

    from srlm.core.artifacts import write_artifact

    return write_artifact(
        pl.DataFrame(
            {
                "prompt_id": [f"p{i}" for i in range(n)],
                "prompt": [f"Question {i}: name a thing." for i in range(n)],
                "chosen": [f"A good answer {i}." for i in range(n)],
                "rejected": [f"Bad {i}!" for i in range(n)],
                "chosen_score": [5.0] * n,
                "rejected_score": [1.0] * n,
                "margin": [4.0] * n,
            }
        ),
        folder,
        "pairs",
        "fp",
    )


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first, then ppid), or
    None for a process that is gone or a zombie (it has exited already)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields


def _descendants(pid: int) -> set[int]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        if (fields := _stat(entry.name)) is not None:
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if _stat(pid) is not None}


@pytest.mark.integration
def test_kill_9_of_a_launched_training_stage_leaves_no_process_behind(tmp_path, tiny_model_dir):
    import os
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "p.yaml").write_text(
        "dpo:\n  batch_size: 2\n  grad_accum: 2\n  precision: "
        "fp32\n  max_length: 128\naccelerate:\n  processes: 2\n"
    )
    stage = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "stages" / "dpo.py"),
            "--params",
            str(tmp_path / "p.yaml"),
            "--base",
            str(tiny_model_dir),
            "--pairs",
            str(_pairs(tmp_path / "pairs", 256)),
            "--out",
            str(tmp_path / "m"),
            "--metrics",
            str(tmp_path / "m.json"),
            "--log",
            str(tmp_path / "m.csv"),
        ],
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    launched: set[int] = set()
    try:
        deadline = time.monotonic() + 300
        while len(launched := _descendants(stage.pid)) < 3:  # the launcher and two ranks
            assert stage.poll() is None and time.monotonic() < deadline, "never launched"
            time.sleep(0.2)
        time.sleep(3)  # the ranks are importing torch and TRL, or training
        launched = _descendants(stage.pid)
        os.kill(stage.pid, signal.SIGKILL)
        stage.wait()
        deadline = time.monotonic() + 60
        while _alive(launched) and time.monotonic() < deadline:
            time.sleep(0.5)
        orphans = _alive(launched)
    finally:
        for pid in _alive(_descendants(stage.pid) | launched):
            os.kill(pid, signal.SIGKILL)
    assert not orphans, f"{len(orphans)} launched processes outlived the stage"
    time.sleep(2)
    assert not (tmp_path / "m").exists() and not (tmp_path / "m.json").exists()


@pytest.mark.integration
def test_a_batch_the_processes_cannot_share_is_one_line_before_anything_launches(
    tmp_path, tiny_model_dir
):
    (tmp_path / "p.yaml").write_text(
        "dpo:\n  batch_size: 3\n  grad_accum: 1\naccelerate:\n  processes: 2\n"
    )
    result = run_stage(
        "dpo",
        "--params",
        str(tmp_path / "p.yaml"),
        "--base",
        str(tiny_model_dir),
        "--pairs",
        str(_pairs(tmp_path / "pairs", 4)),
        "--out",
        str(tmp_path / "m"),
        "--metrics",
        str(tmp_path / "m.json"),
        "--log",
        str(tmp_path / "m.csv"),
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "dpo.batch_size x dpo.grad_accum = 3 x 1" in lines[0]
    assert "running dpo.py in 2 processes" not in result.stderr  # nothing was launched
    assert "Traceback" not in result.stderr and "ChildFailedError" not in result.stderr


def test_a_child_that_asked_to_die_with_its_parent_does(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    # the parent starts a child that asks for SIGKILL on its parent's death, prints its
    # pid and sleeps; the parent is then killed with SIGKILL
    child = (
        "import time; from srlm.core.lifetime import die_with_parent; "
        "die_with_parent(); print(flush=True); time.sleep(120)"
    )
    parent = (
        "import subprocess, sys, time; "
        f"c = subprocess.Popen([sys.executable, '-c', {child!r}], "
        "stdout=subprocess.PIPE); c.stdout.readline(); print(c.pid, flush=True); "
        "time.sleep(120)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = subprocess.Popen(
        [sys.executable, "-c", parent], stdout=subprocess.PIPE, env=env, text=True
    )
    grandchild = int(started.stdout.readline())
    os.kill(started.pid, signal.SIGKILL)
    started.wait()
    deadline = time.monotonic() + 30
    while _alive({grandchild}) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive({grandchild})
