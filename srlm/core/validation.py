"""The range checks every params group runs in `__post_init__`, and the error they raise.

A check names the key as `group.key` (each group class says its name in `_group`), so a
params file's bad value is reported as one line: `sft.batch_size: must be > 0, got 0`.
Shared by the params modules (srlm.core.params_models, params_loop, params_eval, params_scale).
"""

from __future__ import annotations

import re

from srlm.core.errors import SrlmError

MAX_SEED = 2**32 - 1  # numpy's limit, which transformers' set_seed hits
# The largest count (a batch size, a number of tokens, samples or rows) a params file may
# give: a C int, what torch, numpy and the tokenizers take. YAML reads any integer, and
# `sft.batch_size: 10**40` would otherwise pass `> 0` and fail deep inside a library.
MAX_COUNT = 2**31 - 1
# A model or iteration name becomes a folder (data/models/<name>, data/<name>/...) and a DVC
# stage name: plain characters only, so it can never point outside the project.
# fullmatch only: `$` would also accept a trailing newline ("m4\n" would become a folder name)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
NAME_RULE = "letters, digits, '_' and '-', starting with a letter or digit"


class ParamsError(SrlmError):
    """A params file with an unknown or renamed key, or a value of the wrong type or range."""


class InvalidValue(ParamsError):
    """A value out of range. `name` is the field, so a nested group can name its full key."""

    def __init__(self, group: str, name: str, reason: str):
        super().__init__(f"{group}.{name}: {reason}")
        self.name, self.reason = name, reason


def check(config, ok: bool, name: str, reason: str) -> None:
    """Raise `InvalidValue` for `config`'s key `name` unless `ok`."""
    if not ok:
        raise InvalidValue(config._group, name, reason)


def _count_fits(config, name: str, value) -> None:
    """An integer `value` is at most MAX_COUNT (floats are checked finite on load)."""
    if isinstance(value, int) and not isinstance(value, bool):
        check(
            config,
            value <= MAX_COUNT,
            name,
            f"must be <= {MAX_COUNT} (the largest count the libraries take), got {value!r}",
        )


def positive(config, *names: str) -> None:
    """Each of `names` > 0 (and, for an integer, at most MAX_COUNT)."""
    for name in names:
        value = getattr(config, name)
        check(config, value > 0, name, f"must be > 0, got {value!r}")
        _count_fits(config, name, value)


def within(config, name: str, low: float, high: float) -> None:
    """`name` within low..high (both included)."""
    value = getattr(config, name)
    check(config, low <= value <= high, name, f"must be within {low}..{high}, got {value!r}")


def non_negative(config, *names: str) -> None:
    """Each of `names` >= 0 (and, for an integer, at most MAX_COUNT)."""
    for name in names:
        value = getattr(config, name)
        check(config, value >= 0, name, f"must be >= 0, got {value!r}")
        _count_fits(config, name, value)


def at_most(config, name: str, high: int, why: str) -> None:
    """`name` <= `high`; `why` says what the bound protects."""
    value = getattr(config, name)
    check(config, value <= high, name, f"must be <= {high} ({why}), got {value!r}")


def valid_seed(config) -> None:
    """`random_seed` within 0..MAX_SEED."""
    within(config, "random_seed", 0, MAX_SEED)


def sampling(config) -> None:
    """`temperature` >= 0 (0 = greedy) and 0 < `top_p` <= 1."""
    non_negative(config, "temperature")
    check(config, 0 < config.top_p <= 1, "top_p", f"must be within (0, 1], got {config.top_p!r}")
