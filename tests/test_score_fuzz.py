"""Property-based checks of `parse_score` / `score_prefix` on arbitrary judge outputs."""

from __future__ import annotations

import re

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from srlm.loop.judge_prompt import parse_score, score_prefix

# Arbitrary Unicode, and text built from the characters the rules care about, so labels,
# emphasis, malformed numbers and scales come up often.
_NEAR_MISSES = list("Sscore:：*_ \n\t./,-+xe0123456789４٤") + [
    "Score:",
    "score: ",
    "**Score:** ",
    "Subscore:",
    "out of ",
    "/5",
    "/10",
    "4.5.6",
    "0x5",
]
TEXT = st.one_of(st.text(), st.lists(st.sampled_from(_NEAR_MISSES)).map("".join))
SCORE = st.sampled_from([0, 1, 2, 3, 4, 5, 0.5, 2.5, 4.5])
# What may follow the appended score without changing it: a break, then no label at all.
TAIL = st.one_of(st.just(""), TEXT.map(lambda text: "\n" + text))

FAST = settings(max_examples=300, deadline=None, database=None)  # no .hypothesis/ left behind


def _no_label(text: str) -> bool:
    return "score" not in text.lower()


@FAST
@given(TEXT)
def test_any_text_gives_none_or_a_score_in_range_and_a_matching_prefix(text):
    score = parse_score(text)
    assert score is None or (isinstance(score, float) and 0.0 <= score <= 5.0)
    prefix = score_prefix(text)
    assert (prefix is None) == (score is None)
    if prefix is not None:  # expected scoring reads the probabilities right after the prefix
        assert text.startswith(prefix) and text[len(prefix)] in "0123456789"
        # the number parse_score read is the one that starts at the prefix's end...
        number = re.match(r"[0-9]+(?:\.[0-9]+)?", text[len(prefix) :])
        assert number is not None and float(number.group(0)) == score
        # ...and the prefix ends a complete label: whichever digit the judge writes next is
        # the score, which is what weighting "0".."5" by their probabilities assumes
        assert [parse_score(prefix + digit) for digit in "012345"] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


@FAST
@given(TEXT, SCORE, TAIL)
def test_an_appended_score_is_read_back(text, score, tail):
    assume(_no_label(tail))
    judged = f"{text}\nScore: {score}{tail}"
    assert parse_score(judged) == float(score)
    assert judged[len(score_prefix(judged)) :].startswith(str(score))


@FAST
@given(TEXT)
def test_text_without_a_label_has_no_score(text):
    assume(_no_label(text))
    assert parse_score(text) is None and score_prefix(text) is None
