"""What the machine can do: bf16 support, device choice. Used by engines and training."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from srlm.core.errors import SrlmError


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags from /proc/cpuinfo (empty where that file does not exist)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def bf16_supported() -> bool:
    """bf16 is fast here: a CUDA GPU that supports it, or a CPU with AMX / AVX512-BF16."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())


def resolve_precision(setting: str) -> str:
    """`auto` -> `bf16` where supported, else `fp32`; `bf16`/`fp32` pass through."""
    if setting not in ("auto", "bf16", "fp32"):
        raise SrlmError(f"precision: expected auto, bf16 or fp32, got '{setting}'")
    if setting == "auto":
        return "bf16" if bf16_supported() else "fp32"
    return setting


def device() -> str:
    """`cuda` when a GPU is visible, else `cpu`."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
