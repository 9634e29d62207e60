"""IFEval's numbers: the four accuracies and their intervals, the per-instruction table, paired
differences with what they can detect, the seeded sample, and the report's IFEval section."""

from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from srlm.core.errors import SrlmError
from srlm.core.schemas import validate
from srlm.evaluation.ifeval_metrics import (
    check_answers,
    ifeval_metrics,
    instruction_table,
    paired_differences,
    prompt_table,
    sample_items,
)
from srlm.evaluation.ifeval_report import (
    ifeval_comparisons,
    ifeval_frame,
    ifeval_markdown,
    model_bases,
)
from srlm.evaluation.intervals import DETECT_Z, detectable_difference, mean_statistic
from srlm.evaluation.report import markdown


def results(verdicts: list[tuple[list[str], list[bool], list[bool]]], keys=None) -> pl.DataFrame:
    """An `ifeval_results` frame: one (ids, strict, loose) per prompt."""
    keys = keys or list(range(len(verdicts)))
    return validate(
        pl.DataFrame(
            {
                "key": keys,
                "prompt": [f"prompt {k}" for k in keys],
                "instruction_ids": [ids for ids, _, _ in verdicts],
                "response": ["an answer"] * len(keys),
                "model": ["m"] * len(keys),
                "n_tokens": [10] * len(keys),
                "finish_reason": ["stop"] * len(keys),
                "strict": [s for _, s, _ in verdicts],
                "loose": [lo for _, _, lo in verdicts],
            }
        ),
        "ifeval_results",
    )


FOUR_ROWS = [
    (["a", "b"], [True, True], [True, True]),  # every instruction: both levels
    (["a", "c"], [True, False], [True, True]),  # loose rescues c
    (
        ["b"],
        [False],
        [False],
    ),
    (["a", "b", "c"], [False, False, True], [True, False, True]),
]
FOUR = results(FOUR_ROWS)
TWELVE = results(FOUR_ROWS * 3)  # the same rates on enough prompts for an interval


def test_the_four_accuracies_count_prompts_and_instructions():
    metrics = ifeval_metrics(FOUR)
    assert metrics["n_prompts"] == 4 and metrics["n_instructions"] == 8
    assert metrics["prompt_strict"] == 0.25  # only the first prompt
    assert metrics["prompt_loose"] == 0.5  # and the second
    assert metrics["instruction_strict"] == 0.5  # 2 + 1 + 0 + 1 of 8
    assert metrics["instruction_loose"] == 0.75  # 2 + 2 + 0 + 2 of 8
    assert metrics["score"] == pytest.approx((0.25 + 0.5) / 2)
    twelve = ifeval_metrics(TWELVE)
    for figure in ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose"):
        assert metrics[f"{figure}_ci95"] is None  # 4 prompts: too few for an interval
        low, high = twelve[f"{figure}_ci95"]
        assert twelve[figure] == metrics[figure] and 0 <= low <= twelve[figure] <= high <= 1


def test_per_instruction_table_counts_each_occurrence():
    table = {row["instruction_id"]: row for row in instruction_table(FOUR).iter_rows(named=True)}
    assert table["a"] == {"instruction_id": "a", "n": 3, "strict": round(2 / 3, 4), "loose": 1.0}
    assert table["b"]["n"] == 3 and table["b"]["strict"] == round(1 / 3, 4)
    assert table["c"] == {"instruction_id": "c", "n": 2, "strict": 0.5, "loose": 1.0}


def test_a_model_against_itself_differs_by_nothing():
    table = prompt_table(TWELVE)
    same = paired_differences(table, table)
    assert same["prompt_strict"] == same["instruction_loose"] == 0.0
    assert same["prompt_strict_ci95"] == [0.0, 0.0] and same["discordant_strict"] == 0


def test_paired_difference_counts_the_prompts_that_changed():
    n = 40
    base = results([(["a"], [False], [False])] * n)
    better = results([(["a"], [i < 10], [i < 12]) for i in range(n)])
    diff = paired_differences(prompt_table(better), prompt_table(base))
    assert diff["prompt_strict"] == 0.25 and diff["prompt_loose"] == 0.3
    assert diff["discordant_strict"] == 10 and diff["discordant_loose"] == 12
    low, high = diff["prompt_strict_ci95"]
    assert 0 < low < 0.25 < high
    # 10 of 40 prompts gained: the per-prompt sd is sqrt(p(1-p)) with p = 1/4
    expected = DETECT_Z * np.sqrt(0.25 * 0.75 / n)
    assert diff["prompt_strict_mde"] == pytest.approx(expected, rel=0.1)


def test_paired_differences_refuse_different_prompts():
    with pytest.raises(SrlmError, match="answered different prompts"):
        paired_differences(prompt_table(FOUR), prompt_table(FOUR.head(3)))


def test_detectable_difference_shrinks_with_the_square_root_of_the_sample():
    rng = np.random.default_rng(1)
    small = rng.choice([-1.0, 0.0, 1.0], size=100)
    large = np.tile(small, 4)  # the same spread, four times the prompts
    a = detectable_difference(small.size, mean_statistic(small))
    b = detectable_difference(large.size, mean_statistic(large))
    assert a == pytest.approx(DETECT_Z * small.std(ddof=1) / np.sqrt(small.size), rel=0.1)
    assert b == pytest.approx(a / 2, rel=0.1)
    assert detectable_difference(1, mean_statistic(small[:1])) is None


def test_the_sample_is_seeded_sorted_and_the_same_for_any_call():
    items = [SimpleNamespace(key=k) for k in (30, 10, 20, 50, 40)]
    first = sample_items(items, 3, seed=0)
    assert [i.key for i in first] == [i.key for i in sample_items(list(reversed(items)), 3, 0)]
    assert [i.key for i in first] == sorted(i.key for i in first) and len(first) == 3
    assert [i.key for i in sample_items(items, 0, 0)] == [10, 20, 30, 40, 50]
    assert len(sample_items(items, 99, 0)) == 5
    many = [SimpleNamespace(key=k) for k in range(100)]
    assert {i.key for i in sample_items(many, 10, 0)} != {i.key for i in sample_items(many, 10, 1)}


def test_check_answers_joins_answers_to_items_by_key():
    items = [SimpleNamespace(key=7, prompt="Say hi, no commas.", instruction_ids=("x", "y"))]
    answers = pl.DataFrame(
        {
            "prompt_id": ["7"],
            "source": ["ifeval"],
            "response": ["hi"],
            "model": ["m1"],
            "n_tokens": [1],
            "finish_reason": ["stop"],
        }
    )
    seen = []

    def check(item, response):
        seen.append((item.key, response))
        return [True, False], [True, True]

    frame = check_answers(items, answers, check)
    assert seen == [(7, "hi")]
    row = frame.row(0, named=True)
    assert row["strict"] == [True, False] and row["loose"] == [True, True]
    assert row["instruction_ids"] == ["x", "y"] and row["model"] == "m1"


def test_comparisons_pair_each_model_with_its_base_and_m0():
    iterations = {"m2": SimpleNamespace(base="m1"), "m3": SimpleNamespace(base="m2")}
    bases = model_bases(iterations)
    assert bases == {"m1": "m0", "m2": "m1", "m3": "m2"}
    table = prompt_table(FOUR)
    found = ifeval_comparisons({m: table for m in ("m0", "m1", "m2", "m3")}, bases)
    assert {m: sorted(v) for m, v in found.items()} == {
        "m1": ["vs_base"],
        "m2": ["vs_base", "vs_m0"],
        "m3": ["vs_base", "vs_m0"],
    }
    assert found["m3"]["vs_base"]["against"] == "m2" and found["m3"]["vs_m0"]["against"] == "m0"
    # a model whose base has no IFEval results is left out rather than compared with nothing
    assert ifeval_comparisons({"m2": table}, bases) == {}


def test_the_report_leads_with_ifeval_and_states_what_a_difference_could_detect():
    metrics = ifeval_metrics(TWELVE)
    table = prompt_table(TWELVE)
    paired = ifeval_comparisons({"m0": table, "m1": table}, {"m1": "m0"})
    rows = [{"model": "m0", "ifeval": metrics}, {"model": "m1", "ifeval": metrics}]
    text = markdown(rows, paired=paired)
    assert text.startswith("### IFEval")
    low, high = metrics["prompt_strict_ci95"]
    assert f"| m0 | 25.0 [{100 * low:.1f}, {100 * high:.1f}] |" in text
    assert "+0.0 [+0.0, +0.0] (±0.0, vs m0)" in text
    assert "smallest difference this sample would detect" in text
    assert ifeval_markdown([{"model": "m0"}], {}) == []  # nothing measured: no section
    frame = ifeval_frame(rows)
    assert frame["prompt_strict"].to_list() == [0.25, 0.25]
    assert frame["prompt_strict_lo"].to_list() == [low, low]
