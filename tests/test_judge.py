import hashlib
import re

import polars as pl
import pytest

from srlm.loop.judge import (
    aggregate_scores,
    expected_score,
    judge_samples,
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
    assert template.endswith("we'll systematically attribute points based on the outlined criteria.")
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
        {"prompt_id": "p", "candidate_id": "a", "mean_score": 3.0, "n_parsed": 2,
         "sampled_score": 3.0, "expected_score": 3.0},
        {"prompt_id": "p", "candidate_id": "b", "mean_score": None, "n_parsed": 0,
         "sampled_score": None, "expected_score": None},
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
        (0 + 1 + 2 + 3 + 4) * 0.1 + 5 * 0.5)
    # probabilities that leave mass on other tokens are renormalised over 0..5
    assert expected_score([0, 0, 0, 0.2, 0.2, 0]) == pytest.approx(3.5)
    assert expected_score([0.0] * 6) is None and expected_score(None) is None


def test_score_prefix_ends_where_the_parsed_number_starts():
    text = "Relevant and useful.\nScore: 2 (first try)\n**Score:** 4/5"
    prefix = score_prefix(text)
    assert prefix == "Relevant and useful.\nScore: 2 (first try)\n**Score:** "
    assert text[len(prefix):] == "4/5" and parse_score(text) == 4.0
    assert score_prefix("no label here") is None
    assert score_prefix("Score: 9") is None  # out of range is unparsed in both modes


class _Recorder:
    """A fake judge whose option probabilities are fixed, recording what it was asked."""

    def __init__(self, texts):
        self.texts, self.asked = texts, []

    def generate(self, requests):
        from srlm.core.requests import Completion

        return [Completion(r.request_id, i, self.texts[r.request_id][i], 5, "stop")
                for r in requests for i in range(r.n)]

    def option_probabilities(self, requests, prefixes, options):
        self.asked.append((list(prefixes), list(options)))
        return [[0.0, 0.0, 0.0, 0.5, 0.5, 0.0] for _ in requests]


def test_judge_samples_score_both_ways_and_unparsed_is_none_in_both():
    from srlm.core.requests import user_request

    judge = _Recorder({"c1": ["Fine.\nScore: 4", "I cannot say."], "c2": ["Score: 3"]})
    rows = judge_samples(judge, [user_request("c1", "judge c1", n=2),
                                 user_request("c2", "judge c2")])
    assert [(r["request_id"], r["sample"], r["score"], r["expected_score"]) for r in rows] == [
        ("c1", 0, 4.0, 3.5), ("c1", 1, None, None), ("c2", 0, 3.0, 3.5)]
    assert rows[1]["score_probs"] is None and rows[0]["score_probs"][3] == 0.5
    # only parsed samples are scored, each after its own text up to the number
    assert judge.asked == [(["Fine.\nScore: ", "Score: "], ["0", "1", "2", "3", "4", "5"])]


def test_sampled_scores_are_unchanged_by_expected_scoring(tiny_model_dir):
    """The sampled mode reads the same generations the plain generator gives."""
    from srlm.core.config import EngineConfig
    from srlm.core.requests import user_request
    from srlm.engines import make_generator

    generator = make_generator(str(tiny_model_dir), EngineConfig(precision="fp32"))
    requests = [user_request(f"c{i}", render_judge_prompt(f"question {i}", "an answer"), n=2,
                             temperature=0.7, max_new_tokens=12, seed=i) for i in range(3)]
    plain = [parse_score(c.text) for c in generator.generate(requests)]
    texts = [c.text for c in generator.generate(requests)]
    rows = judge_samples(generator, requests)
    assert [r["judge_text"] for r in rows] == texts
    assert [r["score"] for r in rows] == plain
