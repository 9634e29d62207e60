import dataclasses
import typing

import pytest

from srlm.cli import main
from srlm.core.params import (
    DPOParams,
    EngineParams,
    LoraParams,
    Params,
    ParamsError,
    SFTParams,
    TrainingParams,
    as_dict,
    load_params,
)
from srlm.core.params_help import explain
from tests.helpers import ROOT


def write(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_repository_params_load_and_match_types():
    params = load_params(ROOT / "params.yaml")
    assert isinstance(params, Params)
    assert params.sft.learning_rate == pytest.approx(1e-4)
    assert isinstance(params.sft.epochs, float)  # `1` in YAML becomes 1.0
    assert params.base.model == "smollm2-gguf"


def test_params_yaml_is_the_defaults():
    """params.yaml's values are the dataclass defaults, one source; the profile it names
    (profiles/default.yaml) changes nothing."""
    params = load_params(ROOT / "params.yaml")
    assert params.profile == "profiles/default.yaml"
    assert dataclasses.replace(params, profile=None) == Params()


def test_a_profile_named_in_a_params_file_is_merged_over_it(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "small.yaml").write_text(
        "sft:\n  batch_size: 2\n  lora:\n    r: 4\niterations:\n  m2: {base: m1}\n"
    )
    path = write(tmp_path, "profile: profiles/small.yaml\nsft:\n  batch_size: 3\n  epochs: 2\n")
    params = load_params(path)  # the profile's path is relative to the params file
    assert params.sft.batch_size == 2  # the profile wins
    assert params.sft.epochs == 2.0  # the params file's own value stays
    assert params.sft.lora.r == 4 and params.sft.lora.alpha == LoraParams().alpha
    assert list(params.iterations) == ["m2"]  # replaced whole, not merged
    # a profile alone is a params file of overrides over the defaults
    alone = load_params(tmp_path / "profiles" / "small.yaml")
    assert alone.sft.batch_size == 2 and alone.sft.epochs == Params().sft.epochs


@pytest.mark.parametrize(
    "profile, message",
    [
        ("sft:\n  learnig_rate: 1\n", "small.yaml: unknown key 'sft.learnig_rate'"),
        ("sft:\n  batch_size: 0\n", "small.yaml: sft.batch_size: must be > 0"),
        ("profile: other.yaml\n", "small.yaml: a profile cannot name another profile"),
        ("sft: 3\n", "small.yaml"),
        (None, "small.yaml: no such params file"),
    ],
)
def test_a_bad_profile_is_one_line_naming_the_profile(tmp_path, profile, message):
    if profile is not None:
        (tmp_path / "small.yaml").write_text(profile)
    with pytest.raises(ParamsError, match=message) as err:
        load_params(write(tmp_path, "profile: small.yaml\n"))
    assert "\n" not in str(err.value)


def test_missing_keys_and_groups_take_defaults(tmp_path):
    params = load_params(write(tmp_path, "sft:\n  batch_size: 2\n  lora:\n    r: 4\n"))
    assert params.sft.batch_size == 2 and params.sft.lora.r == 4
    assert params.sft.lora.alpha == LoraParams().alpha
    assert params.sft.learning_rate == Params().sft.learning_rate
    assert params.seed == Params().seed
    assert load_params(write(tmp_path, "")) == Params()  # an empty file: every default
    assert load_params(write(tmp_path, "# only a comment\n")) == Params()


def every_config_class(cls=Params):
    yield cls
    for annotation in typing.get_type_hints(cls).values():
        for inner in (annotation, *typing.get_args(annotation)):
            if dataclasses.is_dataclass(inner):
                yield from every_config_class(inner)


def test_every_field_has_a_help_text():
    classes = set(every_config_class())
    assert {SFTParams, DPOParams, LoraParams} <= classes
    for cls in classes:
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help", "").strip(), f"{cls.__name__}.{f.name} has no help"
        assert cls.__dataclass_params__.frozen, cls.__name__


def test_sft_and_dpo_share_the_training_base():
    assert issubclass(SFTParams, TrainingParams) and issubclass(DPOParams, TrainingParams)
    shared = {f.name for f in dataclasses.fields(TrainingParams)}
    assert {
        "epochs",
        "learning_rate",
        "lr_scheduler",
        "batch_size",
        "grad_accum",
        "max_length",
        "precision",
        "logging_steps",
        "random_seed",
        "lora",
    } == shared
    assert {f.name for f in dataclasses.fields(DPOParams)} - shared == {"beta"}
    assert {f.name for f in dataclasses.fields(SFTParams)} == shared
    assert DPOParams().learning_rate != SFTParams().learning_rate  # DPO overrides defaults
    # the base's checks name the group of the subclass
    with pytest.raises(ParamsError, match=r"^dpo\.batch_size: must be > 0, got 0$"):
        DPOParams(batch_size=0)
    with pytest.raises(ParamsError, match=r"^sft\.grad_accum: must be > 0, got 0$"):
        SFTParams(grad_accum=0)


@pytest.mark.parametrize(
    "group", ["seed", "sft", "dpo", "prompts", "candidates", "judge", "evaluation"]
)
def test_renamed_random_seed_is_a_one_line_migration_error(tmp_path, monkeypatch, group):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, f"{group}:\n  seed: 1\n")
    with pytest.raises(ParamsError) as err:
        load_params("params.yaml")
    assert str(err.value) == f"params.yaml: {group}.seed was renamed to {group}.random_seed"
    write(tmp_path, f"{group}:\n  random_seed: 1\n")
    assert getattr(load_params("params.yaml"), group).random_seed == 1


def test_renamed_fewshot_count_is_a_one_line_migration_error(tmp_path, monkeypatch):
    """`prompts.fewshot_seed` was a count, not a seed: a file that still says so is told."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "prompts:\n  fewshot_seed: 3\n")
    with pytest.raises(ParamsError) as err:
        load_params("params.yaml")
    assert str(err.value) == (
        "params.yaml: prompts.fewshot_seed was renamed to prompts.fewshot_from_seed"
    )
    write(tmp_path, "prompts:\n  fewshot_from_seed: 3\n")
    assert load_params("params.yaml").prompts.fewshot_from_seed == 3


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "sft:\n  precision: fp16\n",
            "sft.precision: expected one of 'auto', 'bf16', 'fp32', got 'fp16'",
        ),
        (
            "dpo:\n  precision: 16\n",
            "dpo.precision: expected one of 'auto', 'bf16', 'fp32', got 16",
        ),
        (
            "engine:\n  backend: vlm\n",
            "engine.backend: expected one of 'transformers', 'vllm', 'fake', got 'vlm'",
        ),
        (
            "judge:\n  scoring: mean\n",
            "judge.scoring: expected one of 'sampled', 'expected', got 'mean'",
        ),
        (
            "seed:\n  eft_target: long\n",
            "seed.eft_target: expected one of 'justified', 'score_only', got 'long'",
        ),
        (
            "seed:\n  eft_mode: judge_rationales\n",
            "seed.eft_mode: expected one of 'human_labels', 'model_rationales', got 'judge_",
        ),
        (
            "seed:\n  eft_mode: model_rationales\n",
            "seed.eft_mode: model_rationales needs a teacher: set teacher.model",
        ),
        (
            "seed:\n  eft_mode: model_rationales\nteacher:\n  model: m0\n  endpoint: "
            "http://127.0.0.1:8000/v1\n  endpoint_model: big\n",
            "teacher.model: set teacher.model or teacher.endpoint, not both",
        ),
        (
            "teacher:\n  endpoint: http://example.com/v1\n  endpoint_model: big\n",
            "teacher.endpoint: ",
        ),
        (
            "dpo:\n  lr_scheduler: cosine_annealing\n",
            "dpo.lr_scheduler: expected one of 'linear', ",
        ),
    ],
)
def test_choices_are_one_line_naming_key_and_values(tmp_path, text, message):
    with pytest.raises(ParamsError) as err:
        load_params(write(tmp_path, text))
    assert str(err.value).startswith(f"{tmp_path / 'params.yaml'}: {message}")
    assert "\n" not in str(err.value)


def test_choices_accept_every_listed_value(tmp_path):
    for scheduler in ("linear", "cosine", "constant", "constant_with_warmup"):
        text = (
            f"sft:\n  lr_scheduler: {scheduler}\n  precision: bf16\njudge:\n  scoring: expected\n"
        )
        params = load_params(write(tmp_path, text))
        assert params.sft.lr_scheduler == scheduler and params.judge.scoring == "expected"


@pytest.mark.parametrize(
    "text, key",
    [
        ("sft:\n  learnig_rate: 0.1\n", "sft.learnig_rate"),
        ("sft:\n  lora:\n    rank: 4\n", "sft.lora.rank"),
        ("bogus_group: {}\n", "bogus_group"),
    ],
)
def test_unknown_keys_are_errors_naming_the_key(tmp_path, text, key):
    with pytest.raises(ParamsError, match=rf"unknown key '{key}'"):
        load_params(write(tmp_path, text))


@pytest.mark.parametrize(
    "text, message",
    [
        ("sft:\n  batch_size: eight\n", "sft.batch_size: expected int"),
        ("sft:\n  lora:\n    enabled: 3\n", "sft.lora.enabled: expected bool"),
        ("seed:\n  ift_size: true\n", "seed.ift_size: expected int, got bool"),
        ("sft: 3\n", "sft: expected a mapping"),
    ],
)
def test_wrong_types_name_the_key(tmp_path, text, message):
    with pytest.raises(ParamsError, match=message):
        load_params(write(tmp_path, text))


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ParamsError, match="no such params file"):
        load_params(tmp_path / "nope.yaml")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(write(tmp_path, "sft: [unclosed\n"))


def test_configs_are_frozen():
    params = Params()
    with pytest.raises(AttributeError):
        params.sft.batch_size = 3


def test_profiles_hold_overrides_only():
    import yaml

    paper = load_params(ROOT / "profiles" / "paper.yaml")
    assert paper.seed.ift_size == 3200 and paper.dpo.learning_rate == pytest.approx(1e-6)
    assert paper.seed.eft_target == "justified" and paper.sft.random_seed == 0
    assert paper.engine.backend == "vllm"
    default = yaml.safe_load((ROOT / "params.yaml").read_text())
    every = sum(len(v) if isinstance(v, dict) else 1 for v in default.values())
    for path in sorted((ROOT / "profiles").glob("*.yaml")):
        name, profile = path.name, yaml.safe_load(path.read_text()) or {}
        named = 0
        for group, values in profile.items():
            assert group in default, (name, group)
            if isinstance(values, dict) and group != "iterations":
                assert set(values) <= set(default[group]), (name, group)
                named += len(values)
            else:
                named += 1
        assert named < every / 2, f"{name} is a copy of params.yaml, not overrides"


@pytest.mark.parametrize(
    "text, message",
    [
        ("engine:\n  batch_size: 0\n", "engine.batch_size: must be > 0, got 0"),
        (
            "engine:\n  gpu_memory_utilization: 1.5\n",
            "engine.gpu_memory_utilization: must be within",
        ),
        ("sft:\n  lora:\n    r: 0\n", "sft.lora.r: must be > 0, got 0"),
        ("seed:\n  eft_min_target_spread: 6\n", "seed.eft_min_target_spread: must be within 0..5"),
        ("iterations:\n  m4: {}\n", "iterations.m4.base: missing"),
        (
            "iterations:\n  m2: {base: m1}\n  m3: {base: m2}\n  m4: {base: m3}\n",
            "evaluation.models: 'm4' \\(from iterations.m4\\) is missing",
        ),
        ("iterations:\n  m4: {base: m3}\n", "iterations.m4.base: 'm3' is neither m0, m1 nor"),
        ("candidates:\n  shard_size: 0\n", "candidates.shard_size: must be > 0"),
        ("judge:\n  samples: -1\n", "judge.samples: must be > 0"),
        ("sft:\n  precision: fp16\n", "sft.precision: expected one of"),
        ("dpo:\n  beta: 0\n", "dpo.beta: must be > 0"),
        # `$` would let a trailing newline through into a folder and a DVC stage name
        ('iterations:\n  "m4\\n": {base: m1}\n', "'m4\\\\n' is not a valid iteration name"),
        ('evaluation:\n  models: ["m0\\n", m1]\n', "evaluation.models: 'm0\\n' is not a valid"),
        ("ifeval:\n  limit: -1\n", "ifeval.limit: must be >= 0"),
    ],
)
def test_out_of_range_values_name_the_key(tmp_path, text, message):
    with pytest.raises(ParamsError, match=message):
        load_params(write(tmp_path, text))


def test_params_explain_prints_every_key_with_type_default_and_help(capsys):
    assert main(["params", "--explain"]) == 0
    out = capsys.readouterr().out
    assert out == explain() + "\n"
    assert "sft.random_seed  (int, default 0)  Random seed of the Trainer" in out
    assert "dpo.learning_rate  (float, default 5e-06)  Peak learning rate" in out
    assert "engine.backend  (transformers|vllm|fake, default vllm)  " in out
    assert "evaluation.alpaca_eval  (str or null, default null)  " in out
    assert "sft.lora.r  (int, default 16)  LoRA rank." in out
    assert "iterations.<name>.base  (str, required)  " in out
    lines = {line.split("  ")[0] for line in out.splitlines() if "  (" in line}

    def keys(value, where):
        for name, inner in value.items():
            yield f"{where}.{name}"
            if isinstance(inner, dict):
                yield from keys(inner, f"{where}.{name}")

    expected = {
        k
        for group, value in as_dict(Params()).items()
        if group not in ("iterations", "profile")
        for k in keys(value, group)
    }
    assert expected <= lines and "iterations" in lines and "profile" in lines
    groups = [line.split(":")[0] for line in out.split("\n\n")]
    assert groups == [f.name for f in dataclasses.fields(Params)]


def test_params_prints_the_effective_params_and_has_help(tmp_path, capsys):
    import json

    assert main(["params", "--file", str(write(tmp_path, "judge:\n  samples: 5\n"))]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["judge"]["samples"] == 5 and printed["judge"]["random_seed"] == 0
    expected = {**as_dict(Params()), "judge": {**as_dict(Params().judge), "samples": 5}}
    assert printed == json.loads(json.dumps(expected))  # tuples print as lists
    assert main(["params", "--file", str(write(tmp_path, "sft:\n  seed: 3\n"))]) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: srlm params: {tmp_path / 'params.yaml'}: sft.seed was renamed to sft.random_seed"
    )
    with pytest.raises(SystemExit) as exit_:
        main(["params", "--help"])
    assert exit_.value.code == 0
    assert "--explain" in capsys.readouterr().out


def test_configs_built_in_python_are_checked_too():
    with pytest.raises(ParamsError, match="engine.batch_size: must be > 0"):
        EngineParams(batch_size=0)
    with pytest.raises(ParamsError, match="lora.dropout: must be within 0..1"):
        LoraParams(dropout=1.0)


@pytest.mark.parametrize(
    "text, key",
    [
        ("sft:\n  batch_size: 1" + "0" * 40 + "\n", "sft.batch_size"),
        ("candidates:\n  max_new_tokens: 4294967296\n", "candidates.max_new_tokens"),
        ("seed:\n  ift_size: 9223372036854775808\n", "seed.ift_size"),
    ],
)
def test_counts_beyond_a_c_int_name_the_key(tmp_path, text, key):
    """YAML reads any integer: a count no library can take is a range error on load."""
    with pytest.raises(ParamsError, match=rf"{key}: must be <= 2147483647 "):
        load_params(write(tmp_path, text))
    assert load_params(write(tmp_path, "sft:\n  batch_size: 2147483647\n")).sft.batch_size == (
        2**31 - 1
    )
