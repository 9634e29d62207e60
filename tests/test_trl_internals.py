"""The TRL internals srlm/training relies on are still where it expects them.

srlm/training/trainer_classes.py subclasses TRL's trainers and completion_loss.py replaces the
fused LM head TRL's DPOTrainer installs, so they depend on private names and method signatures, not only on
TRL's public API. pyproject.toml pins TRL to the minor release these were read from; these
checks say which piece moved when that pin is raised, in seconds and without a model (the
training tests would fail too, but minutes later and with a less direct message).
"""

from __future__ import annotations

import dataclasses
import inspect
import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement

from tests.helpers import ROOT


def _fail(piece: str, use: str) -> str:
    return (
        f"trl {metadata.version('trl')}: {piece}; srlm/training/trainer_classes.py and "
        f"completion_loss.py {use} "
        "(re-read TRL's source and adapt it, then the pin in pyproject.toml)"
    )


def test_the_installed_trl_is_the_pinned_minor():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [Requirement(r) for r in project["dependencies"] if Requirement(r).name == "trl"]
    assert len(pins) == 1, "pyproject.toml: one `trl` requirement expected"
    installed = metadata.version("trl")
    assert pins[0].specifier.contains(installed), f"trl {installed} is not {pins[0]}"
    # an upper bound, so that a new minor release is a deliberate change
    assert any(spec.operator == "<" for spec in pins[0].specifier), str(pins[0])


def test_fused_causal_lm_output_has_the_fields_we_fill():
    try:
        from trl.trainer.utils import FusedCausalLMOutput
    except ImportError:
        pytest.fail(
            _fail(
                "trl.trainer.utils.FusedCausalLMOutput is gone",
                "returns it from `completion_log_probs`",
            )
        )
    fields = {f.name for f in dataclasses.fields(FusedCausalLMOutput)}
    ours = {
        "loss",
        "log_probs",
        "entropy",
        "mean_logits",
        "is_top1",
        "log_sum_sq_probs",
        "label_mask",
    }
    assert ours <= fields, _fail(
        f"FusedCausalLMOutput lacks {sorted(ours - fields)}", "fills them in `completion_log_probs`"
    )


def test_dpo_trainer_installs_a_fused_head_that_we_replace():
    from trl import DPOTrainer
    from trl.trainer import dpo_trainer

    init = inspect.getsource(DPOTrainer.__init__)
    # CompletionDPOTrainer replaces, after DPOTrainer.__init__, the head this call installs,
    # with the same outputs (`use_weighting` adds log_sum_sq_probs)
    for piece in ("add_fused_lm_head(", "self.use_weighting", "self.ref_model"):
        assert piece in init, _fail(
            f"DPOTrainer.__init__ no longer uses `{piece}`", "replaces the fused head it installs"
        )
    # ...and the loss asks the models for log-probabilities through that head
    source = inspect.getsource(dpo_trainer)
    assert "labels=labels, fused_lm_head=True" in source, _fail(
        "DPOTrainer no longer calls its models with `labels=..., fused_lm_head=True`",
        "answers exactly that call in `use_completion_head`",
    )
    # the tokenized pairs whose lengths `pair_token_counts` reads
    for column in ("prompt_ids", "chosen_ids", "rejected_ids"):
        assert f'"{column}"' in source, _fail(
            f"DPO's tokenized pairs have no `{column}`", "reads it in `pair_token_counts`"
        )


@pytest.mark.parametrize("trainer", ["SFTTrainer", "DPOTrainer"])
def test_the_sampler_we_override_has_the_signature_we_assume(trainer):
    import trl

    cls = getattr(trl, trainer)
    method = getattr(cls, "_get_train_sampler", None)
    assert method is not None, _fail(
        f"{trainer}._get_train_sampler is gone", "overrides it to group examples by length"
    )
    params = list(inspect.signature(method).parameters.values())
    assert [p.name for p in params] == ["self", "train_dataset"], _fail(
        f"{trainer}._get_train_sampler{inspect.signature(method)}",
        "overrides it as `_get_train_sampler(self, train_dataset=None)`",
    )
    assert params[1].default is None, _fail(
        "train_dataset has no default None", "calls `super()._get_train_sampler(train_dataset)`"
    )


def test_sft_compute_loss_has_the_signature_we_override():
    from trl import SFTTrainer

    signature = inspect.signature(SFTTrainer.compute_loss)
    assert list(signature.parameters) == [
        "self",
        "model",
        "inputs",
        "return_outputs",
        "num_items_in_batch",
    ], _fail(f"SFTTrainer.compute_loss{signature}", "overrides it in `CompletionSFTTrainer`")


@pytest.mark.parametrize(
    ("config", "fields"),
    [
        (
            "SFTConfig",
            {
                "max_length",
                "completion_only_loss",
                "packing",
                "train_sampling_strategy",
                "average_tokens_across_devices",
                "gradient_checkpointing",
            },
        ),
        (
            "DPOConfig",
            {
                "beta",
                "max_length",
                "precompute_ref_log_probs",
                "disable_dropout",
                "use_weighting",
                "train_sampling_strategy",
                "gradient_checkpointing",
            },
        ),
    ],
)
def test_configs_have_the_fields_we_set_or_read(config, fields):
    import trl

    have = {f.name for f in dataclasses.fields(getattr(trl, config))}
    assert fields <= have, (
        f"trl {metadata.version('trl')}: {config} lacks "
        f"{sorted(fields - have)}; srlm/training/trainers.py and trainer_classes.py use them"
    )
