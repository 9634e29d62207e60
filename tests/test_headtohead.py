"""Head-to-head verdicts: both orders, position bias as ties, counts and rates."""

import polars as pl
import pytest

from srlm.core.schemas import validate
from srlm.evaluation.comparisons import (
    comparison_prompts,
    head_to_head_metrics,
    outcome,
    preference,
    render_compare_prompt,
    verdict_frame,
)


def test_the_prompt_keeps_braces_and_puts_answers_in_their_slots():
    text = render_compare_prompt("Write {json}", "A says {response_b}", "B says hi")
    assert "[Instruction]\nWrite {json}" in text
    assert "[Response A]\nA says {response_b}\n\n[Response B]\nB says hi" in text


def test_outcome_needs_the_same_verdict_in_both_orders():
    assert outcome(0.9, 0.6) == "win"
    assert outcome(0.2, 0.4) == "loss"
    assert outcome(0.9, 0.2) == "tie"  # the evaluator always picked Response A
    assert outcome(0.5, 0.9) == "tie"  # no preference in one order
    assert outcome(None, 0.9) == "tie"  # no mass on either letter
    assert preference(0.3, 0.1) == pytest.approx(0.75) and preference(0.0, 0.0) is None


def test_verdicts_from_probabilities_in_prompt_order():
    rows = pl.DataFrame(
        {
            "prompt_id": ["p1", "p2", "p3"],
            "source": ["s", "s", "t"],
            "prompt": ["q1", "q2", "q3"],
            "answer": ["a1", "a2", "a3"],
            "other": ["o1", "o2", "o3"],
        }
    )
    prompts = comparison_prompts(rows)
    assert (
        len(prompts) == 6 and "[Response A]\na1" in prompts[0] and "[Response A]\no1" in prompts[1]
    )
    probabilities = [
        [0.6, 0.2],
        [0.1, 0.5],  # p1: model first preferred, model second preferred -> win
        [0.6, 0.2],
        [0.6, 0.2],  # p2: always "A" -> tie
        [0.1, 0.3],
        [0.4, 0.1],  # p3: other preferred both times -> loss
    ]
    verdicts = verdict_frame(rows, probabilities, "m2", "m1")
    validate(verdicts, "verdicts")
    assert verdicts["outcome"].to_list() == ["win", "tie", "loss"]
    assert verdicts["model_as_a"][0] == pytest.approx(0.75)
    assert verdicts["model_as_b"][0] == pytest.approx(5 / 6)
    metrics = head_to_head_metrics(verdicts)
    assert (metrics["wins"], metrics["ties"], metrics["losses"]) == (1, 1, 1)
    assert metrics["win_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert metrics["win_rate_ties_half"] == pytest.approx(0.5)
    assert metrics["by_source"]["t"]["losses"] == 1 and metrics["by_source"]["s"]["n"] == 2
    with pytest.raises(ValueError, match="expected 6 probability pairs"):
        verdict_frame(rows, probabilities[:4], "m2", "m1")
