"""Stable ids and the text key used to match prompts across files and iterations."""

from __future__ import annotations

import hashlib


def normalize_text(text: str) -> str:
    """Whitespace-normalised, case-folded text: the key for decontamination and dedup."""
    return " ".join(text.split()).casefold()


def content_id(*parts: str) -> str:
    """A stable 16-hex-digit id from text parts (same content -> same id across builds)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8"))
    return digest.hexdigest()[:16]
