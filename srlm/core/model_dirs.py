"""Model directories as stages read them: checked first, loaded with one clear error.

Every stage that loads a model (the generation engines, SFT, DPO) goes through here, so a
missing, empty or damaged model directory is one `ModelLoadError` line naming the directory
and the cause, never a traceback from transformers or safetensors:

- `check_model_dir(path)`: the directory exists and holds a `config.json` that is a JSON
  object (enough for the fake engine, which loads nothing);
- `load_model_and_tokenizer(path, ...)`: also a tokenizer and weights, then loads both;
  any exception while loading becomes a `ModelLoadError` with its first line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from srlm.core.bounded_read import METADATA_LIMIT, read_text
from srlm.core.errors import SrlmError
from srlm.core.text import parse_json

# Any one of these makes a tokenizer transformers can load.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt")
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "*.safetensors.index.json")


class ModelLoadError(SrlmError):
    """A model directory that cannot be loaded; the message names it and the cause."""


def _cause(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    text = text if len(text) <= 240 else text[:239] + "…"
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def check_model_dir(path: str | Path) -> dict:
    """The parsed `config.json` of model directory `path`; `ModelLoadError` when the
    directory is missing, is a file, or has no readable `config.json` object."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"{path}: no such model directory (build it with `dvc repro`)")
    if not path.is_dir():
        raise ModelLoadError(f"{path}: must be a model directory, not a file")
    config = path / "config.json"
    if not config.exists():  # anything else there (a FIFO, a folder) is refused by read_text
        found = "it is empty" if not any(path.iterdir()) else "no config.json"
        raise ModelLoadError(f"{path}: not a model directory ({found}; build it with `dvc repro`)")
    text = read_text(config, "model config", METADATA_LIMIT, ModelLoadError)
    try:
        data = parse_json(text, str(config))  # nesting too deep, lone surrogates: named
    except json.JSONDecodeError as err:
        raise ModelLoadError(f"{config}: not valid JSON ({_cause(err)})") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{config}: expected a JSON object, got {type(data).__name__}")
    return data


def check_loadable(path: str | Path) -> dict:
    """`check_model_dir` plus a `model_type`, a tokenizer and weights in the directory."""
    path = Path(path)
    config = check_model_dir(path)
    if not isinstance(config.get("model_type"), str):
        raise ModelLoadError(
            f"{path / 'config.json'}: no 'model_type' (not a transformers model config)"
        )
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise ModelLoadError(f"{path}: no tokenizer (none of {', '.join(TOKENIZER_FILES)})")
    if not any(next(path.glob(pattern), None) for pattern in WEIGHT_PATTERNS):
        raise ModelLoadError(f"{path}: no weights (no *.safetensors or pytorch_model.bin)")
    return config


def context_length(config: dict) -> int | None:
    """The longest sequence the model was built for (`max_position_embeddings` or an alias)."""
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def load_model_and_tokenizer(
    path: str | Path, tokenizer_kwargs: dict | None = None, model_kwargs: dict | None = None
) -> tuple[Any, Any]:
    """(model, tokenizer) of the causal LM in `path`; every failure is a `ModelLoadError`."""
    from transformers import CONFIG_MAPPING, AutoModelForCausalLM, AutoTokenizer, __version__
    from transformers.utils import logging as hf_logging

    model_type = check_loadable(path)["model_type"]
    if model_type not in CONFIG_MAPPING:
        raise ModelLoadError(
            f"{Path(path) / 'config.json'}: unknown model_type '{model_type}' "
            f"(transformers {__version__} does not know it)"
        )
    part = "tokenizer"
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a "Loading weights" bar per stage run says nothing
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), **(tokenizer_kwargs or {}))
        part = "model"
        model = AutoModelForCausalLM.from_pretrained(str(path), **(model_kwargs or {}))
    except Exception as err:  # transformers, safetensors, json, torch: many types
        raise ModelLoadError(f"{path}: cannot load the {part} ({_cause(err)})") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if getattr(tokenizer, "chat_template", None) is None:
        raise ModelLoadError(
            f"{path}: the tokenizer has no chat template (srlm prompts every "
            "model as a chat; use a chat model)"
        )
    return model, tokenizer
