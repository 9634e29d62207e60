"""Evaluation prompt files: human references (default), AlpacaEval, MT-Bench, prompt lists."""

import json

import pytest

from srlm.evaluation.prompts import (
    read_eval_prompts,
    read_human_references,
    select_eval_prompts,
)
from srlm.sources.readers import SeedFormatError
from tests.helpers import ROOT, repo_file, shared_file


def test_real_alpaca_eval_and_mt_bench_files():
    alpaca = read_eval_prompts(
        str(shared_file("alpaca_eval", "gpt4_1106_preview.model_outputs.json"))
    )
    mt_bench = read_eval_prompts(str(repo_file("mt_bench", "question.jsonl")))
    assert alpaca.height == 805 and alpaca["reference"].is_not_null().all()
    assert set(alpaca["reference_model"]) == {"gpt4_1106_preview"}
    assert alpaca.filter(alpaca["source"] == "alpaca_eval/oasst").height == 188
    assert mt_bench.height == 80 and mt_bench["reference"].is_null().all()
    first = json.loads(repo_file("mt_bench", "question.jsonl").read_text().splitlines()[0])
    assert mt_bench["prompt"][0] == first["turns"][0]
    picked = select_eval_prompts(
        [alpaca, mt_bench], {"reference": 7, "mt_bench": 3}, ("oasst", "vicuna"), seed=0
    )
    assert picked.height == 10
    assert set(picked["source"].str.split("/").list.first()) == {"alpaca_eval", "mt_bench"}
    assert set(picked.filter(picked["reference"].is_not_null())["source"]) <= {
        "alpaca_eval/oasst",
        "alpaca_eval/vicuna",
    }
    again = select_eval_prompts(
        [alpaca, mt_bench], {"reference": 7, "mt_bench": 3}, ("oasst", "vicuna"), seed=0
    )
    assert again.equals(picked)
    other = select_eval_prompts(
        [alpaca, mt_bench], {"reference": 7, "mt_bench": 3}, ("oasst", "vicuna"), seed=1
    )
    assert set(other["prompt_id"]) != set(picked["prompt_id"])


def test_embedded_trees_give_root_prompts_without_references():
    frame = read_eval_prompts(str(ROOT / "srlm" / "seed_data" / "eval.trees.jsonl"))
    assert frame.height == 20 and frame["reference"].is_null().all()
    assert frame["source"].unique().to_list() == ["prompts/eval.trees.jsonl"]


def test_broken_records_name_file_and_line(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(
        json.dumps(
            [
                {"instruction": "hi", "output": "yo", "generator": "g"},
                {"instruction": "x", "output": None, "generator": "g"},
            ]
        )
    )
    with pytest.raises(SeedFormatError, match=r"outputs.json:2: AlpacaEval record without"):
        read_eval_prompts(str(path))
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"something": 1}\n')
    with pytest.raises(SeedFormatError, match="no prompts found"):
        read_eval_prompts(str(empty))


VALIDATION = ("oasst", "oasst1_en_validation.messages.jsonl")


def test_default_references_are_the_best_human_reply_of_each_validation_prompt():
    refs = read_human_references(str(repo_file(*VALIDATION)))
    # 188 English roots, 186 with ranked replies (data/raw/README.md)
    assert refs.height == 186 and refs["reference"].is_not_null().all()
    assert set(refs["reference_model"]) == {"human-rank0"}
    assert set(refs["source"]) == {"human/oasst1_en_validation.messages.jsonl"}
    messages = [json.loads(line) for line in repo_file(*VALIDATION).open()]
    roots = {m["message_id"]: m["text"] for m in messages if m["parent_id"] is None}
    best = {
        roots[m["parent_id"]]: m["text"]
        for m in messages
        if m["parent_id"] in roots and m["rank"] == 0
    }
    for prompt, reference in refs.select("prompt", "reference").iter_rows():
        assert best[prompt] == reference


def test_human_reference_prompts_are_alpaca_evals_oasst_subset():
    alpaca = read_eval_prompts(
        str(shared_file("alpaca_eval", "gpt4_1106_preview.model_outputs.json"))
    )
    refs = read_human_references(str(repo_file(*VALIDATION)))
    oasst = set(alpaca.filter(alpaca["source"] == "alpaca_eval/oasst")["prompt_id"])
    assert set(refs["prompt_id"]) <= oasst and len(oasst) == 188


def test_mt_bench_first_turns_carry_gpt4_references_where_there_are_some():
    frame = read_eval_prompts(
        str(repo_file("mt_bench", "question.jsonl")),
        str(repo_file("mt_bench", "reference_answer.gpt-4.jsonl")),
    )
    with_ref = frame.filter(frame["reference"].is_not_null())
    assert frame.height == 80 and with_ref.height == 30
    assert set(with_ref["reference_model"]) == {"mt_bench:gpt-4"}
    assert set(with_ref["source"]) <= {"mt_bench/math", "mt_bench/reasoning", "mt_bench/coding"}
    answers = {
        r["question_id"]: r["choices"][0]["turns"][0]
        for r in map(json.loads, repo_file("mt_bench", "reference_answer.gpt-4.jsonl").open())
    }
    questions = [json.loads(line) for line in repo_file("mt_bench", "question.jsonl").open()]
    expected = {q["turns"][0]: answers.get(q["question_id"]) for q in questions}
    for prompt, reference in frame.select("prompt", "reference").iter_rows():
        assert expected[prompt] == reference


def test_alpaca_eval_rows_replace_the_human_references(tmp_path):
    refs = read_human_references(str(repo_file(*VALIDATION)))
    prompt = refs["prompt"][0]
    path = tmp_path / "outputs.json"
    path.write_text(
        json.dumps(
            [
                {
                    "instruction": prompt,
                    "output": "GPT answer",
                    "generator": "gpt4",
                    "dataset": "oasst",
                },
                {
                    "instruction": "Name a prime.",
                    "output": "2",
                    "generator": "gpt4",
                    "dataset": "koala",
                },
            ]
        )
    )
    alpaca = read_eval_prompts(str(path))
    default = select_eval_prompts([refs], {"reference": 500}, ("oasst",), seed=0)
    assert default.height == 186 and set(default["reference_model"]) == {"human-rank0"}
    swapped = select_eval_prompts([alpaca, refs], {"reference": 500}, ("oasst",), seed=0)
    assert swapped.height == 1 and swapped["reference"].to_list() == ["GPT answer"]
    every = select_eval_prompts([alpaca, refs], {"reference": 500}, (), seed=0)
    assert set(every["reference_model"]) == {"gpt4"} and every.height == 2
