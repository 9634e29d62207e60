"""The model the integration tier's real vLLM server serves: `save_scripted_judge` writes it.

The scripted judge is a real Llama checkpoint whose weights make it a lookup table: one layer
whose attention and MLP write nothing (o_proj and down_proj are zero), so the last hidden
state is the current token's embedding, normalised; the scripted tokens have one-hot
embeddings (the six digits share one) and every other token a zero one. Its next-token
distribution therefore depends on the current token only, and is known exactly
(`next_token_probabilities`):

    "\\n" (the end of every chat prompt) -> "Score" (and, far less likely, "A" or "B")
    "Score" -> ":" -> " " -> a digit 0-5 (`DIGIT_LOGITS`: a spread, so sampled scores vary
    and expected scores are not round numbers) -> <|im_end|>

So a judge on it writes `Score: N` in any sampling mode, an evaluator reads known P(A) and
P(B) from the first token's logprobs, and every probability a client reads can be checked
against the arithmetic, not against another run.

The server itself is `srlm.engines.vllm_server.LocalVllmServer`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NEWLINE, SCORE, COLON, SPACE, EOS = 198, 32226, 42, 216, 2  # SmolLM2 token ids
LETTER_A, LETTER_B = 49, 50
DIGITS = tuple(range(32, 38))  # "0" .. "5"
DIGIT_LOGITS = (20.0, 20.4, 20.8, 21.6, 21.2, 20.4)
# (current token, next token, logit); every other next token gets logit 0
SCRIPT = (
    (NEWLINE, SCORE, 24.0),
    (NEWLINE, LETTER_A, 13.0),
    (NEWLINE, LETTER_B, 12.0),
    (SCORE, COLON, 24.0),
    (COLON, SPACE, 24.0),
    *((SPACE, digit, logit) for digit, logit in zip(DIGITS, DIGIT_LOGITS, strict=True)),
    *((digit, EOS, 24.0) for digit in DIGITS),
)
HIDDEN = 64  # one head of 64: vLLM's CPU attention needs SmolLM2's head size
RMS_EPS = 1e-6


def _slots() -> dict[int, int]:
    """Each scripted current token's embedding dimension; the digits share the last one."""
    others = list(dict.fromkeys(current for current, _, _ in SCRIPT if current not in DIGITS))
    return {**{token: i for i, token in enumerate(others)}, **dict.fromkeys(DIGITS, len(others))}


def save_scripted_judge(out: Path, tokenizer) -> Path:
    """The scripted judge (module docstring) with `tokenizer` (SmolLM2's), saved in `out`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=2 * HIDDEN,
        num_hidden_layers=1,
        num_attention_heads=1,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        rms_norm_eps=RMS_EPS,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    embed, head = embedding_and_head(len(tokenizer))
    with torch.no_grad():
        model.model.embed_tokens.weight.copy_(torch.from_numpy(embed))
        model.lm_head.weight.copy_(torch.from_numpy(head))
        model.model.norm.weight.fill_(1.0)
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def embedding_and_head(vocab: int) -> tuple[np.ndarray, np.ndarray]:
    """The embedding and lm_head matrices (float32) that encode `SCRIPT`."""
    slots = _slots()
    scale = np.sqrt(1.0 / HIDDEN + RMS_EPS)  # RMSNorm turns a one-hot row into 1/scale there
    embed = np.zeros((vocab, HIDDEN), np.float32)
    head = np.zeros((vocab, HIDDEN), np.float32)
    for current, slot in slots.items():
        embed[current, slot] = 1.0
    for current, following, logit in SCRIPT:
        head[following, slots[current]] = logit * scale
    return embed, head


def next_token_probabilities(current: int, vocab: int) -> np.ndarray:
    """The scripted judge's exact next-token distribution after `current` (float64)."""
    embed, head = embedding_and_head(vocab)
    x = embed[current].astype(np.float64)
    hidden = x / np.sqrt(np.mean(x**2) + RMS_EPS)
    logits = head.astype(np.float64) @ hidden
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()
