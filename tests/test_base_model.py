import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from srlm.training.base_model import BaseModelError, import_base_model, resolve_source
from tests.helpers import run_stage


def test_local_model_directory_is_imported_as_safetensors(tiny_model_dir, tmp_path):
    summary = import_base_model(str(tiny_model_dir), tmp_path / "m0")
    assert summary["architecture"] == "LlamaForCausalLM" and summary["gguf_file"] is None
    assert (tmp_path / "m0" / "model.safetensors").is_file()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "m0")
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    original = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    imported = AutoModelForCausalLM.from_pretrained(tmp_path / "m0").state_dict()
    assert all(torch.equal(original[k], imported[k]) for k in original)


def test_resolve_source_errors(tmp_path):
    with pytest.raises(BaseModelError, match="no such model directory"):
        resolve_source(str(tmp_path / "a" / "b" / "c"), None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BaseModelError, match="set base.gguf_file"):
        resolve_source(str(tmp_path / "empty"), None)
    (tmp_path / "empty" / "x.gguf").write_bytes(b"")
    assert resolve_source(str(tmp_path / "empty"), None) == (str(tmp_path / "empty"), "x.gguf")
    assert resolve_source("OWNER/model", None) == ("OWNER/model", None)  # hub id, used online


@pytest.mark.integration
def test_hub_id_offline_is_a_clear_error(tmp_path):
    # a subprocess, because huggingface_hub reads HF_HUB_OFFLINE once, at import
    params = tmp_path / "params.yaml"
    params.write_text("base:\n  model: srlm-test/definitely-not-cached\n")
    result = run_stage(
        "base",
        "--params",
        str(params),
        "--out",
        str(tmp_path / "m0"),
        "--metrics",
        str(tmp_path / "base.json"),
    )
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: srlm-test/definitely-not-cached: cannot load model")
    assert not (tmp_path / "m0").exists()


@pytest.mark.slow
def test_packaged_smollm2_gguf_is_rebuilt_and_saved(tmp_path):
    summary = import_base_model("smollm2-gguf", tmp_path / "m0")
    assert summary["parameters"] == 134_515_008
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "m0")
    assert getattr(model.config, "quantization_config", None) is None
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "m0")
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 2+2?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**ids, max_new_tokens=24, do_sample=False)
    text = tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "4" in text or "four" in text.lower()
