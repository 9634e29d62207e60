"""What the backends share: tokenizer helpers for option probabilities and watched tokens.

The request and completion records and the `Generator` protocol are in `srlm.runtime.requests`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import accumulate

from srlm.core.errors import SrlmError


class OptionTokenError(SrlmError):
    """An option of `option_probabilities` is not exactly one token for this tokenizer."""


def chat_prompt_ids(tokenizer, chat: list[dict]) -> list[int]:
    """Token ids of `chat` in the model's chat template, ready for the assistant's reply.

    transformers 5 returns a `BatchEncoding` from `apply_chat_template(tokenize=True)` unless
    `return_dict=False` is passed, and wrappers (vLLM's) may not pass the flag on; a mapping
    becomes its `input_ids` here, because iterating it would give its keys.
    """
    ids = tokenizer.apply_chat_template(
        chat, add_generation_prompt=True, tokenize=True, return_dict=False
    )
    return list(ids["input_ids"]) if isinstance(ids, Mapping) else list(ids)


def continuation_ids(tokenizer, prefix: str, options: Sequence[str]) -> tuple[list[int], list[int]]:
    """Token ids of `prefix` and the one token of each option that continues it.

    Tokenizers differ on where a space goes ("Score: 4" is `: | ' ' | 4` for SmolLM2 but
    `: | ' 4'` for others), so when the prefix ends in whitespace and an option does not make
    exactly one more token, the whitespace moves into the options. Raises `OptionTokenError`
    when no split gives one token per option.
    """
    stripped = prefix.rstrip()
    splits = [(prefix, list(options))]
    if stripped != prefix:
        tail = prefix[len(stripped) :]
        splits.append((stripped, [tail + option for option in options]))
    for head, tails in splits:
        head_ids = tokenizer.encode(head, add_special_tokens=False) if head else []
        ids = []
        for tail in tails:
            full = tokenizer.encode(head + tail, add_special_tokens=False)
            if len(full) != len(head_ids) + 1 or full[: len(head_ids)] != head_ids:
                break
            ids.append(full[-1])
        else:
            return head_ids, ids
    raise OptionTokenError(
        f"options {list(options)!r} are not single tokens after {prefix[-20:]!r} for this tokenizer"
    )


def watch_token_ids(tokenizer, options: Sequence[str]) -> list[list[int]]:
    """Per option, the single tokens that write it: the option itself and, where the
    tokenizer has one, the option with a leading space (" 4" is one token for some)."""
    groups = []
    for option in options:
        ids = []
        for form in (option, " " + option):
            encoded = tokenizer.encode(form, add_special_tokens=False)
            if len(encoded) == 1:
                ids.append(encoded[0])
        if not ids:
            raise OptionTokenError(f"watched option {option!r} is not a single token")
        groups.append(ids)
    return groups


def token_offsets(tokenizer, tokens: Sequence[int]) -> tuple[str, tuple[int, ...]]:
    """The decoded, stripped text of `tokens` and the character where each token starts.

    A token's start is the length of the text of the tokens before it. Where the tokens'
    own texts add up to the whole text, with no character split between tokens (byte-level
    BPE such as SmolLM2's, most of the time), that is a running sum: linear in the tokens.
    Otherwise each prefix is decoded (exact for any tokenizer, quadratic in the tokens).
    """
    raw = tokenizer.decode(tokens, skip_special_tokens=True)
    if not tokens:
        return raw.strip(), ()
    lead = len(raw) - len(raw.lstrip())
    pieces = tokenizer.batch_decode([[token] for token in tokens], skip_special_tokens=True)
    if "".join(pieces) == raw and not any("\ufffd" in piece for piece in pieces):
        ends = list(accumulate(len(piece) for piece in pieces))
        lengths = [0, *ends[:-1]]
    else:
        lengths = [
            len(tokenizer.decode(tokens[:i], skip_special_tokens=True)) for i in range(len(tokens))
        ]
    return raw.strip(), tuple(max(0, length - lead) for length in lengths)
