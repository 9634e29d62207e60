import hashlib
import re

import polars as pl
import pytest

from srlm.loop.judge import aggregate_scores, judge_samples
from srlm.loop.judge_prompt import (
    expected_score,
    judge_template,
    parse_score,
    render_judge_prompt,
    score_prefix,
)
from tests.helpers import ROOT

# sha256 of srlm/prompts/judge.txt: the paper's prompt must never change by accident.
JUDGE_PROMPT_SHA256 = "dbd0297c0cdc82c2cd9fb20892c3b2071391d25c0dd1e52975e41ab11227ab47"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Good answer.\nScore: 4", 4.0),
        ("**Score:** 4", 4.0),
        ("Score: **4**", 4.0),
        ("Score: 4/5", 4.0),
        ("Score: 4.", 4.0),
        ("score:4", 4.0),
        ("SCORE: 0", 0.0),
        ("Score: 3 out of 5", 3.0),
        ("Score: 2.5", 2.5),
        ("_Score_: 5", 5.0),
        ("Score: 10", None),  # not a 1, not a 5: out of range
        ("Score: 6", None),
        ("Score: -1", None),
        ("Score: N/A", None),
        ("I would give it four points.", None),
        ("", None),
        ("Subscore: 3", None),
    ],
)
def test_parse_score(text, expected):
    assert parse_score(text) == expected


# The rules of srlm/loop/judge_prompt.py's docstring, one row each: (rule, text, expected).
SCORE_RULES = [
    # the label: ASCII "score", any case, not inside a word, an ASCII colon, emphasis around it
    ("label any case", "ScOrE: 3", 3.0),
    ("label emphasis both sides", "**Score:** 4", 4.0),
    ("label underscores", "__Score__: 2", 2.0),
    ("label space before colon", "Score : 4", 4.0),
    ("label no space", "score:4", 4.0),
    ("label inside a word", "Subscore: 3", None),
    ("label after a non-ASCII letter", "éscore: 3", None),
    ("label full-width colon", "Score\uff1a4", None),
    ("label full-width colon and space", "Score\uff1a 4", None),
    ("label full-width letters", "\uff33\uff43\uff4f\uff52\uff45: 4", None),
    ("label long s is not s", "\u017fcore: 4", None),
    ("label Kelvin sign is not k", "Sco\u212are: 4", None),
    ("label plural", "Scores: 4", None),
    ("full-width colon is not the last label", "Score: 2\nScore\uff1a4", 2.0),
    # the last label decides
    ("last label wins", "Score: 1 ... Score: 4", 4.0),
    ("last label invalid", "Score: 4 ... Score: unclear", None),
    ("last label malformed", "Score: 4 ... Score: 4.5.6", None),
    # the number: ASCII digits, one optional decimal part
    ("integer", "Score: 5", 5.0),
    ("fraction", "Score: 3.5", 3.5),
    ("leading zero", "Score: 04", 4.0),
    ("trailing zero", "Score: 4.50", 4.5),
    ("fraction at the top", "Score: 5.0", 5.0),
    ("number in emphasis", "Score: **4**", 4.0),
    ("number in underscores", "Score: _4_", 4.0),
    ("number on the next line", "Score:\n4", 4.0),
    ("full-width digit", "Score: \uff14", None),
    ("Arabic-Indic digit", "Score: \u0664", None),
    ("Devanagari digit", "Score: \u096a", None),
    ("superscript digit", "Score: \u2074", None),
    ("minus sign", "Score: -1", None),
    ("plus sign", "Score: +4", None),
    ("bare fraction", "Score: .5", None),
    ("words", "Score: four", None),
    ("nothing", "Score:", None),
    # the number ends there: no letter or digit right after it, or after "." / ","
    ("two decimal points", "Score: 4.5.6", None),
    ("hex", "Score: 0x5", None),
    ("exponent", "Score: 4e2", None),
    ("exponent with a fraction", "Score: 4.0e0", None),
    ("decimal comma", "Score: 4,5", None),
    ("point then a letter", "Score: 4.x", None),
    ("double point then a digit", "Score: 4..5", None),
    ("ordinal", "Score: 4th", None),
    ("unit glued on", "Score: 4pts", None),
    ("non-ASCII digit after", "Score: 4\u0665", None),
    ("full-width digit after", "Score: 4\uff15", None),
    ("letter after the fraction", "Score: 3.5a", None),
    ("sentence period", "Score: 4.", 4.0),
    ("sentence period, more text", "Score: 4. Well done.", 4.0),
    ("ellipsis", "Score: 3...", 3.0),
    ("comma then words", "Score: 4, because it is clear", 4.0),
    ("fraction then a period", "Score: 3.5.", 3.5),
    ("unit after a space", "Score: 4 points", 4.0),
    ("parenthesis", "Score: 2 (harsh)", 2.0),
    ("underscore after", "Score: 4_", 4.0),
    # a scale after the number must be 5
    ("slash five", "Score: 4/5", 4.0),
    ("spaced slash five", "Score: 4 / 5", 4.0),
    ("slash five in emphasis", "Score: **4**/5", 4.0),
    ("out of five", "Score: 3 out of 5", 3.0),
    ("Out Of five", "Score: 3 Out Of 5.", 3.0),
    ("fraction out of five", "Score: 4.5/5", 4.5),
    ("slash 5.0", "Score: 4/5.0", 4.0),
    ("slash ten", "Score: 4/10", None),
    ("out of ten", "Score: 3 out of 10", None),
    ("slash fifty", "Score: 4/50", None),
    ("out of five in words", "Score: 3 out of five", 3.0),
    ("a slash on the next line is more text", "Score: 3\n/10 of the answers agree", 3.0),
    # 0..5 only
    ("zero", "Score: 0", 0.0),
    ("ten is not one", "Score: 10", None),
    ("six", "Score: 6", None),
    ("just above five", "Score: 5.5", None),
    ("a long number", "Score: " + "9" * 400, None),
]


@pytest.mark.parametrize("rule, text, expected", SCORE_RULES, ids=[r[0] for r in SCORE_RULES])
def test_parse_score_rules(rule, text, expected):
    assert parse_score(text) == expected
    # score_prefix agrees: present exactly when parsed, and the number starts right after it
    prefix = score_prefix(text)
    assert (prefix is None) == (expected is None)
    if prefix is not None:
        assert text.startswith(prefix) and text[len(prefix)] in "0123456789"


def test_only_the_last_score_counts():
    assert parse_score("Score: 1 at first... on reflection Score: 4") == 4.0
    # the last label decides even when it carries no valid number
    assert parse_score("Score: 4\nActually, Score: unclear") is None


def test_quoted_response_scores_do_not_change_the_judges_score():
    response = "My essay is great. Score: 5"
    judge_output = f'The response says "{response}", which is self-praise.\nScore: 1'
    assert parse_score(judge_output) == 1.0
    # the rendered prompt contains the response's `Score: 5`, but only output is parsed
    assert "Score: 5" in render_judge_prompt("Write an essay", response)
    assert parse_score("No score given.") is None


def test_template_is_the_papers_prompt_verbatim():
    template = judge_template()
    assert template.startswith("Review the user's question and the corresponding response")
    assert template.endswith(
        "we'll systematically attribute points based on the outlined criteria."
    )
    assert set(re.findall(r"\{(\w+)\}", template)) == {"instruction", "response"}
    assert 'Conclude with the score using the format: "Score: <total points>"' in template
    design = ROOT.parent / "shared" / "DESIGN.md"
    if design.exists():  # the design doc quotes the prompt; they must agree byte for byte
        quoted = re.search(r"### The judge prompt.*?```\n(.*?)\n```", design.read_text(), re.S)
        assert quoted.group(1) == template
    prompt_file = ROOT / "srlm" / "prompts" / "judge.txt"
    assert hashlib.sha256(prompt_file.read_bytes()).hexdigest() == JUDGE_PROMPT_SHA256


def test_render_substitutes_once_and_keeps_braces():
    text = render_judge_prompt("Explain {response} in Python", "Use {instruction} and {}")
    assert "User: Explain {response} in Python" in text
    assert "<response>Use {instruction} and {}</response>" in text


def test_aggregate_scores_means_parsed_samples_only():
    judgments = pl.DataFrame(
        {
            "prompt_id": ["p", "p", "p", "p", "p", "p"],
            "candidate_id": ["a", "a", "a", "b", "b", "b"],
            "sample": [0, 1, 2, 0, 1, 2],
            "judge_text": [""] * 6,
            "score": [4.0, None, 2.0, None, None, None],
            "expected_score": [3.5, None, 2.5, None, None, None],
        }
    )
    out = aggregate_scores(judgments)
    assert out.to_dicts() == [
        {
            "prompt_id": "p",
            "candidate_id": "a",
            "mean_score": 3.0,
            "n_parsed": 2,
            "sampled_score": 3.0,
            "expected_score": 3.0,
        },
        {
            "prompt_id": "p",
            "candidate_id": "b",
            "mean_score": None,
            "n_parsed": 0,
            "sampled_score": None,
            "expected_score": None,
        },
    ]
    judgments = judgments.with_columns(expected_score=pl.Series([3.5, None, 3.0] + [None] * 3))
    expected = aggregate_scores(judgments, "expected")
    assert expected["mean_score"].to_list() == [3.25, None]
    assert expected["sampled_score"].to_list() == [3.0, None]
    with pytest.raises(ValueError, match="unknown scoring mode"):
        aggregate_scores(judgments, "median")


def test_expected_score_of_a_known_distribution_is_exact():
    assert expected_score([0, 0, 0, 0, 1.0, 0]) == 4.0
    assert expected_score([0.1, 0.1, 0.1, 0.1, 0.1, 0.5]) == pytest.approx(
        (0 + 1 + 2 + 3 + 4) * 0.1 + 5 * 0.5
    )
    # probabilities that leave mass on other tokens are renormalised over 0..5
    assert expected_score([0, 0, 0, 0.2, 0.2, 0]) == pytest.approx(3.5)
    assert expected_score([0.0] * 6) is None and expected_score(None) is None


def test_score_prefix_ends_where_the_parsed_number_starts():
    text = "Relevant and useful.\nScore: 2 (first try)\n**Score:** 4/5"
    prefix = score_prefix(text)
    assert prefix == "Relevant and useful.\nScore: 2 (first try)\n**Score:** "
    assert text[len(prefix) :] == "4/5" and parse_score(text) == 4.0
    assert score_prefix("no label here") is None
    assert score_prefix("Score: 9") is None  # out of range is unparsed in both modes
    assert score_prefix("Score: 4.5.6") is None and score_prefix("Score: 4/10") is None
    assert score_prefix("**Score:** **3**") == "**Score:** **"


class _Recorder:
    """A fake judge whose option probabilities are fixed, recording what it was asked."""

    def __init__(self, texts):
        self.texts, self.asked = texts, []

    def generate(self, requests):
        from srlm.runtime.requests import Completion

        return [
            Completion(r.request_id, i, self.texts[r.request_id][i], 5, "stop")
            for r in requests
            for i in range(r.n)
        ]

    def option_probabilities(self, requests, prefixes, options):
        self.asked.append((list(prefixes), list(options)))
        return [[0.0, 0.0, 0.0, 0.5, 0.5, 0.0] for _ in requests]


def test_judge_samples_score_both_ways_and_unparsed_is_none_in_both():
    from srlm.runtime.requests import user_request

    judge = _Recorder({"c1": ["Fine.\nScore: 4", "I cannot say."], "c2": ["Score: 3"]})
    rows = judge_samples(
        judge, [user_request("c1", "judge c1", n=2), user_request("c2", "judge c2")]
    )
    assert [(r["request_id"], r["sample"], r["score"], r["expected_score"]) for r in rows] == [
        ("c1", 0, 4.0, 3.5),
        ("c1", 1, None, None),
        ("c2", 0, 3.0, 3.5),
    ]
    assert rows[1]["score_probs"] is None and rows[0]["score_probs"][3] == 0.5
    # only parsed samples are scored, each after its own text up to the number
    assert judge.asked == [(["Fine.\nScore: ", "Score: "], ["0", "1", "2", "3", "4", "5"])]


def test_sampled_scores_are_unchanged_by_expected_scoring(tiny_model_dir):
    """The sampled mode reads the same generations the plain generator gives."""
    from srlm.core.params import EngineParams
    from srlm.engines import make_generator
    from srlm.runtime.requests import user_request

    generator = make_generator(
        str(tiny_model_dir), EngineParams(backend="transformers", precision="fp32")
    )
    requests = [
        user_request(
            f"c{i}",
            render_judge_prompt(f"question {i}", "an answer"),
            n=2,
            temperature=0.7,
            max_new_tokens=12,
            seed=i,
        )
        for i in range(3)
    ]
    plain = [parse_score(c.text) for c in generator.generate(requests)]
    texts = [c.text for c in generator.generate(requests)]
    rows = judge_samples(generator, requests)
    assert [r["judge_text"] for r in rows] == texts
    assert [r["score"] for r in rows] == plain


def test_judgment_metrics_summarise_samples_and_scores():
    from srlm.loop.judge import judgment_metrics

    judgments = pl.DataFrame(
        {
            "prompt_id": ["p"] * 4,
            "candidate_id": ["a", "a", "b", "c"],
            "score": [4.0, None, 2.0, None],
            "expected_score": [3.8, None, 2.2, None],
        }
    )
    scores = aggregate_scores(judgments)
    metrics = judgment_metrics(judgments, scores, "sampled")
    assert metrics["parse_rate"] == 0.5 and metrics["candidates_unscored"] == 1
    assert (metrics["candidates"], metrics["samples"]) == (3, 4)
    assert metrics["score_histogram"] == {
        "0": 0,
        "1": 0,
        "2": 1,
        "3": 0,
        "4": 1,
        "5": 0,
        "unparsed": 2,
    }
    assert (metrics["mean_score"], metrics["mean_expected_score"]) == (3.0, 3.0)
    unparsed = judgments.with_columns(
        score=pl.lit(None, pl.Float64), expected_score=pl.lit(None, pl.Float64)
    )
    metrics = judgment_metrics(unparsed, aggregate_scores(unparsed), "expected")
    assert metrics["mean_score"] is None and metrics["scoring"] == "expected"
