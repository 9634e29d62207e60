"""The judge learning-curve study's wiring (the study itself trains real models: not here)."""

import importlib.util
import sys

import yaml

from srlm.core.params import Params, from_dict
from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "studies"))  # the study imports its shared module by its bare name
spec = importlib.util.spec_from_file_location("study", ROOT / "studies" / "judge_learning_curve.py")
study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(study)


def test_each_point_is_the_default_profile_with_the_study_overrides():
    params = study.merged_params(160, study.PROFILE)
    config = from_dict(Params, params)
    assert config.seed.eft_size == 160 and config.seed.eft_target == "score_only"
    assert config.seed.eft_eval_size >= 541 and config.judge.scoring == "expected"
    default = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert params["sft"] == default["sft"]  # only the study's keys differ


def test_table_lists_both_modes_with_intervals_and_time():
    metrics = {
        "pairwise_accuracy": 0.6,
        "pairwise_accuracy_ci95": [0.55, 0.65],
        "tie_rate": 0.01,
        "spearman": 0.2,
        "spearman_ci95": [0.1, 0.3],
        "n_pairs": 531,
    }
    text = study.table(
        [{"eft_examples": 40, "seconds": 125, "sampled": metrics, "expected": metrics}]
    )
    assert (
        "| 40 | sampled | 60.0 [55.0, 65.0] | 1.0 | 0.200 [0.100, 0.300] | 531 | 2 min 5 s |"
        in text
    )
    assert text.count("| 40 |") == 2
