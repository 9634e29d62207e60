import hashlib
import re

import polars as pl
import pytest

from srlm.judge import aggregate_scores, judge_template, parse_score, render_judge_prompt
from tests.conftest import ROOT

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
        }
    )
    out = aggregate_scores(judgments)
    assert out.to_dicts() == [
        {"prompt_id": "p", "candidate_id": "a", "mean_score": 3.0, "n_parsed": 2},
        {"prompt_id": "p", "candidate_id": "b", "mean_score": None, "n_parsed": 0},
    ]
