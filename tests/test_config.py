import pytest

from srlm.core.config import ConfigError, Params, load_params
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


def test_missing_groups_take_defaults(tmp_path):
    params = load_params(write(tmp_path, "sft:\n  batch_size: 2\n"))
    assert params.sft.batch_size == 2
    assert params.seed == Params().seed


@pytest.mark.parametrize(
    "text, key",
    [
        ("sft:\n  learnig_rate: 0.1\n", "sft.learnig_rate"),
        ("sft:\n  lora:\n    rank: 4\n", "sft.lora.rank"),
        ("bogus_group: {}\n", "bogus_group"),
    ],
)
def test_unknown_keys_are_errors_naming_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=rf"unknown key '{key}'"):
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
    with pytest.raises(ConfigError, match=message):
        load_params(write(tmp_path, text))


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="no such params file"):
        load_params(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(write(tmp_path, "sft: [unclosed\n"))


def test_configs_are_frozen():
    params = Params()
    with pytest.raises(AttributeError):
        params.sft.batch_size = 3


def test_paper_profile_is_valid_and_differs_only_in_values():
    import yaml

    paper = load_params(ROOT / "profiles" / "paper.yaml")
    assert paper.seed.ift_size == 3200 and paper.dpo.learning_rate == pytest.approx(1e-6)
    assert paper.engine.backend == "vllm"
    default = yaml.safe_load((ROOT / "params.yaml").read_text())
    profile = yaml.safe_load((ROOT / "profiles" / "paper.yaml").read_text())
    assert set(default) == set(profile)
    for group in default:
        if isinstance(default[group], dict):
            assert set(default[group]) == set(profile[group]), group


@pytest.mark.parametrize("text, message", [
    ("engine:\n  backend: vlm\n", "engine.backend: unknown backend 'vlm'"),
    ("engine:\n  batch_size: 0\n", "engine.batch_size: must be > 0, got 0"),
    ("candidates:\n  shard_size: 0\n", "candidates.shard_size: must be > 0"),
    ("judge:\n  samples: -1\n", "judge.samples: must be > 0"),
    ("sft:\n  precision: fp16\n", "sft.precision: expected one of"),
    ("dpo:\n  beta: 0\n", "dpo.beta: must be > 0"),
])
def test_out_of_range_values_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_params(write(tmp_path, text))
