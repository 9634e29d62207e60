"""Evaluation prompt files: AlpacaEval with references, MT-Bench first turns, prompt lists."""

import json

import pytest

from srlm.evaluation.prompts import read_eval_prompts, select_eval_prompts
from srlm.sources.readers import SeedFormatError
from tests.conftest import ROOT, shared_file


def test_real_alpaca_eval_and_mt_bench_files():
    alpaca = read_eval_prompts(str(shared_file("alpaca_eval",
                                               "gpt4_1106_preview.model_outputs.json")))
    mt_bench = read_eval_prompts(str(shared_file("mt_bench", "question.jsonl")))
    assert alpaca.height == 805 and alpaca["reference"].is_not_null().all()
    assert set(alpaca["reference_model"]) == {"gpt4_1106_preview"}
    assert alpaca.filter(alpaca["source"] == "alpaca_eval/oasst").height == 188
    assert mt_bench.height == 80 and mt_bench["reference"].is_null().all()
    first = json.loads(shared_file("mt_bench", "question.jsonl").read_text().splitlines()[0])
    assert mt_bench["prompt"][0] == first["turns"][0]
    picked = select_eval_prompts([alpaca, mt_bench], {"alpaca_eval": 7, "mt_bench": 3},
                                 ("oasst", "vicuna"), seed=0)
    assert picked.height == 10
    assert set(picked["source"].str.split("/").list.first()) == {"alpaca_eval", "mt_bench"}
    assert set(picked.filter(picked["reference"].is_not_null())["source"]) <= {
        "alpaca_eval/oasst", "alpaca_eval/vicuna"}
    again = select_eval_prompts([alpaca, mt_bench], {"alpaca_eval": 7, "mt_bench": 3},
                                ("oasst", "vicuna"), seed=0)
    assert again.equals(picked)
    other = select_eval_prompts([alpaca, mt_bench], {"alpaca_eval": 7, "mt_bench": 3},
                                ("oasst", "vicuna"), seed=1)
    assert set(other["prompt_id"]) != set(picked["prompt_id"])


def test_embedded_trees_give_root_prompts_without_references():
    frame = read_eval_prompts(str(ROOT / "srlm" / "seed_data" / "eval.trees.jsonl"))
    assert frame.height == 20 and frame["reference"].is_null().all()
    assert frame["source"].unique().to_list() == ["prompts/eval.trees.jsonl"]


def test_broken_records_name_file_and_line(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps([{"instruction": "hi", "output": "yo", "generator": "g"},
                                {"instruction": "x", "output": None, "generator": "g"}]))
    with pytest.raises(SeedFormatError, match=r"outputs.json:2: AlpacaEval record without"):
        read_eval_prompts(str(path))
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"something": 1}\n')
    with pytest.raises(SeedFormatError, match="no prompts found"):
        read_eval_prompts(str(empty))
