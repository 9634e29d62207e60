"""The study runner (studies/run_profile.py): profiles merged over params.yaml as overrides
only, the study profile itself, stage times from DVC's output, and one end-to-end run on a tiny
model with the fake engine that stops early, is resumed, and leaves its results folder."""

import csv
import importlib.util
import shutil
import subprocess
import sys
from datetime import datetime

import pytest
import yaml

from srlm.core.params import load_params
from tests.helpers import ROOT

STUDIES = ROOT / "studies"
sys.path.insert(0, str(STUDIES))  # the scripts import their shared module by its bare name
spec = importlib.util.spec_from_file_location("run_profile", STUDIES / "run_profile.py")
runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runner)
import scratch_project  # noqa: E402  (after the path above)
import study_record  # noqa: E402

DEFAULTS = yaml.safe_load((ROOT / "params.yaml").read_text())


def profile(tmp_path, overrides: dict, name: str = "study.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(overrides))
    return path


def changed(params: dict, defaults: dict, where: str = "") -> set[str]:
    """Dotted keys whose value differs from the defaults."""
    keys = set()
    for key, value in params.items():
        name = f"{where}{key}"
        if isinstance(value, dict) and isinstance(defaults.get(key), dict) and key != "iterations":
            keys |= changed(value, defaults[key], f"{name}.")
        elif defaults.get(key) != value:
            keys.add(name)
    return keys


def test_a_profile_overrides_only_the_keys_it_names(tmp_path):
    path = profile(
        tmp_path,
        {
            "seed": {"eft_size": 640},
            "sft": {"lora": {"r": 8}},
            "evaluation": {"models": ["m1", "m2"]},
            "iterations": {"m2": {"base": "m1"}},
        },
    )
    params = scratch_project.merged_params(path)
    assert changed(params, DEFAULTS) == {
        "seed.eft_size",
        "sft.lora.r",
        "evaluation.models",
        "iterations",
    }
    assert params["sft"]["lora"]["alpha"] == DEFAULTS["sft"]["lora"]["alpha"]  # merged by key
    assert params["iterations"] == {"m2": {"base": "m1"}}  # replaced whole: m3 is gone
    scratch_project.write_params(tmp_path, params)
    (tmp_path / "profiles").mkdir()  # what params.yaml names, as a project copy has it
    shutil.copy(ROOT / "profiles" / "default.yaml", tmp_path / "profiles")
    config = load_params(tmp_path / "params.yaml")
    assert config.seed.eft_size == 640 and config.sft.lora.r == 8
    assert list(config.iterations) == ["m2"]


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"sed": {"eft_size": 1}}, "'sed'"),
        ({"seed": {"eft_sise": 1}}, "'seed.eft_sise'"),
        ({"sft": {"lora": {"rank": 4}}}, "'sft.lora.rank'"),
    ],
)
def test_an_unknown_group_or_key_is_one_line_naming_the_profile_and_key(tmp_path, overrides, key):
    path = profile(tmp_path, overrides, "typo.yaml")
    with pytest.raises(scratch_project.ProfileError) as err:
        scratch_project.merged_params(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and key in message


def test_a_bad_value_is_caught_before_anything_runs(tmp_path):
    path = profile(tmp_path, {"judge": {"scoring": "loudest"}})
    with pytest.raises(scratch_project.ProfileError) as err:
        runner.checked_params(path)
    assert str(path) in str(err.value) and "scoring" in str(err.value)
    assert "\n" not in str(err.value)


def test_the_cpu_study_profile_is_what_the_study_asks_for():
    text = (ROOT / "profiles" / "cpu_study.yaml").read_text()
    params = runner.checked_params(ROOT / "profiles" / "cpu_study.yaml")
    config = load_params_from(params)
    assert config.seed.eft_size == 640 and config.seed.eft_eval_size >= 100_000
    assert config.judge.scoring == "expected" and config.ifeval.limit == 0
    assert list(config.iterations) == ["m2", "m3"]
    assert set(config.evaluation.models) >= {"m1", "m2", "m3"}
    # >= 300 pairs a round even at the lowest pair yield the default run saw (14 of 15)
    assert config.prompts.n_keep * 14 / 15 >= 300
    assert "total" in text.lower()  # the time budget is written beside the values


def load_params_from(params: dict):
    from srlm.core.params import Params, from_dict

    return from_dict(Params, params)


def test_stage_times_run_from_one_stage_start_to_the_next():
    events = [("base", 100.0), ("seed", 124.5), ("sft", 126.0)]
    assert runner.stage_seconds(events, end=221.04) == {"base": 24.5, "seed": 1.5, "sft": 95.0}


def test_the_recorded_command_hides_the_work_folder():
    shown = runner.shown_command(
        [
            "--profile",
            str(ROOT / "profiles" / "cpu_study.yaml"),
            "--workdir",
            "/scratch/x",
            "--until",
            "sft",
        ]
    )
    assert shown == (
        "python studies/run_profile.py --profile profiles/cpu_study.yaml "
        "--workdir '<workdir>' --until sft"
    )


def test_a_study_resumed_on_another_machine_says_which_machine_ran_each_stage():
    times = {"sft": (125.0, "CPU one"), "dpo@m2": (61.0, "CPU two"), "pairs@m2": (1.0, "")}
    block = study_record.run_block(
        "python studies/run_profile.py",
        datetime(2026, 1, 2),
        seconds=62.0,
        ran=["dpo@m2"],
        times=times,
        until=None,
    )
    assert "- machine A: CPU one" in block and "- machine B: CPU two" in block
    assert "| `sft` | 2 min 5 s | A |" in block and "| `dpo@m2` | 1 min 1 s | B |" in block
    assert "| `pairs@m2` | 0 min 1 s |  |" in block  # recorded before machines were
    assert "sum of all recorded stage times: 3 min 7 s" in block
    one = study_record.run_block(
        "x",
        datetime(2026, 1, 2),
        seconds=1.0,
        ran=[],
        times={"sft": (125.0, "CPU one")},
        until=None,
    )
    assert "machine A" not in one and "| `sft` | 2 min 5 s |\n" in one


@pytest.mark.integration
def test_runner_runs_stops_early_resumes_and_keeps_results(tmp_path, tiny_model_dir):
    small = {
        "base": {"model": str(tiny_model_dir)},
        "seed": {"ift_size": 8, "eft_size": 12, "eft_eval_size": 12},
        "sft": {"batch_size": 4, "max_length": 256, "precision": "fp32"},
        "engine": {"backend": "fake"},
        "prompts": {"n_generate": 12, "n_keep": 6},
        "candidates": {"shard_size": 4},
        "judge": {"shard_size": 8},
    }
    path = profile(tmp_path, small, "tiny_study.yaml")
    out, work = tmp_path / "out", tmp_path / "work"
    command = [
        sys.executable,
        str(STUDIES / "run_profile.py"),
        "--profile",
        str(path),
        "--out",
        str(out),
        "--workdir",
        str(work),
        "--until",
        "eval_prompts",
        "pairs@m2",
    ]

    def run():
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    first = run()
    ran = [
        "base",
        "seed",
        "sft",
        "eval_prompts",
        "prompts@m2",
        "candidates@m2",
        "judgments@m2",
        "anchors@m2",
        "pairs@m2",
    ]
    for stage in ran:
        assert f"] Running stage '{stage}'" in first  # stamped with the time
    # the targets in the order given (DVC alone runs eval_prompts after sft)
    assert first.index("Running stage 'eval_prompts'") < first.index("Running stage 'base'")
    assert "dpo@m2" not in first and "Running stage 'dpo" not in first
    with (out / "stage_times.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    times = {row["stage"]: float(row["seconds"]) for row in rows}
    assert sorted(times) == sorted(ran) and all(s >= 0 for s in times.values())
    assert {row["machine"] for row in rows} == {study_record.machine()}
    for name in ("seed.json", "m1/sft.json", "m1/sft_loss.csv", "m2/prompts.json", "m2/pairs.json"):
        assert (out / "metrics" / name).is_file(), name
    assert load_params(out / "params.yaml").seed.eft_size == 12
    assert "pairs@m2" in (out / "dvc.lock").read_text()
    readme = (out / "README.md").read_text()
    assert "(stopped at `eval_prompts pairs@m2`)" in readme
    assert "--until eval_prompts pairs@m2" in readme and "<workdir>" in readme
    assert str(work) not in readme
    assert "commit: `" in readme and "machine of this run: " in readme and "`sft` |" in readme

    # a write-up beside the run block survives; a second run resumes and redoes nothing
    (out / "README.md").write_text(readme + "\nM2 does not beat M1.\n")
    second = run()
    assert "resuming in" in second and "Running stage" not in second
    readme = (out / "README.md").read_text()
    assert readme.count("## Run") == 1 and "M2 does not beat M1." in readme
    with (out / "stage_times.csv").open() as handle:
        assert sorted(row["stage"] for row in csv.DictReader(handle)) == sorted(ran)


@pytest.mark.integration
def test_dry_run_prints_the_study_params_and_stages_and_runs_nothing():
    result = subprocess.run(
        [
            sys.executable,
            str(STUDIES / "run_profile.py"),
            "--profile",
            str(ROOT / "profiles" / "cpu_study.yaml"),
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "eft_size: 640" in result.stdout and "scoring: expected" in result.stdout
    listed = result.stdout.rsplit("stages would run: ", 1)[1].split()
    assert listed[:3] == ["base", "seed", "sft"] and listed[-1] == "report"
    assert {"dpo@m2", "dpo@m3", "evaluate_judge@m0", "evaluate_judge@m3", "monitors@m3"} <= set(
        listed
    )


def test_a_resumed_work_folder_keeps_the_defaults_its_code_was_copied_with(tmp_path):
    """A checkout whose params.yaml gained a group since the copy (here `teacher`, which the
    copied code would reject) resumes with the profile merged over the copy's own defaults;
    a folder made before those were kept merges over its own params.yaml."""
    profile = tmp_path / "profile.yaml"
    profile.write_text(yaml.safe_dump({"prompts": {"n_keep": 7}}))
    params = scratch_project.merged_params(profile)
    workdir = tmp_path / "work"
    project, made = runner.prepare(workdir, "profile", params, profile)
    assert not made
    kept = yaml.safe_load((workdir / scratch_project.DEFAULTS_FILE).read_text())
    assert kept == yaml.safe_load((ROOT / "params.yaml").read_text())
    # the code as copied knew no `teacher` group, and the profile has changed since
    kept.pop("teacher")
    (workdir / scratch_project.DEFAULTS_FILE).write_text(yaml.safe_dump(kept))
    profile.write_text(yaml.safe_dump({"prompts": {"n_keep": 9}}))
    runner.prepare(workdir, "profile", params, profile)
    resumed = yaml.safe_load((workdir / "params.yaml").read_text())
    assert "teacher" not in resumed and resumed["prompts"]["n_keep"] == 9
    (workdir / scratch_project.DEFAULTS_FILE).unlink()  # a folder from before the file
    profile.write_text(yaml.safe_dump({"prompts": {"n_keep": 11}}))
    runner.prepare(workdir, "profile", params, profile)
    older = yaml.safe_load((workdir / "params.yaml").read_text())
    assert "teacher" not in older and older["prompts"]["n_keep"] == 11
