"""Stage `prompts@<it>` as DVC runs it: the kept prompts and the dropped generations, each
with its reason, written together under one fingerprint, and counted alike in the metrics."""

import json
from collections import Counter

import pytest

from srlm.core.artifacts import read_artifact, read_manifest, write_artifact
from srlm.core.schemas import artifact_frame
from tests.helpers import run_stage

pytestmark = pytest.mark.integration  # runs the stage script in a subprocess

# The fake engine writes 4 to 15 words: min_words 7 drops some as too short, and n_keep 6 of
# 16 tries stops after the round that fills the quota, dropping its surplus as over_quota.
PARAMS = "engine:\n  backend: fake\nprompts:\n  n_generate: 16\n  n_keep: {keep}\n  min_words: 7\n"
PARAMS += "  round_size: 4\n"


@pytest.fixture
def inputs(tmp_path):
    """The seed IFT (few-shot examples), an EFT-eval set and a model folder (the fake engine
    loads nothing; the fingerprint counts the folder)."""
    ift = [
        {"example_id": f"s{i}", "prompt": f"Seed question {i} about topic {i}?", "response": "r"}
        for i in range(8)
    ]
    write_artifact(
        artifact_frame("seed_ift", [{**r, "source": "test"} for r in ift]),
        tmp_path / "ift",
        "seed_ift",
        "fp-ift",
    )
    eft_eval = {
        "example_id": "e0",
        "group_id": "g",
        "prompt": "How do vaccines work?",
        "response": "r",
        "human_rank": 0,
        "target_score": 5,
        "judge_input": "j",
        "judge_target": "Score: 5",
        "source": "test",
    }
    write_artifact(
        artifact_frame("seed_eft", [eft_eval]), tmp_path / "eft_eval", "seed_eft", "fp-eft"
    )
    (tmp_path / "m1").mkdir()
    (tmp_path / "m1" / "config.json").write_text("{}")
    return tmp_path


def prompts_stage(root, keep=6, dropped="dropped"):
    (root / "params.yaml").write_text(PARAMS.format(keep=keep))
    args = ["--params", "params.yaml", "--iteration", "m2", "--model", "m1", "--ift", "ift"]
    args += ["--eft-eval", "eft_eval", "--out", "prompts", "--dropped", dropped]
    return run_stage("prompts", *args, "--metrics", "prompts.json", cwd=root)


def test_prompts_stage_keeps_the_dropped_generations_with_their_reason(inputs):
    result = prompts_stage(inputs)
    assert result.returncode == 0, result.stderr
    prompts = read_artifact(inputs / "prompts", "prompts")
    dropped = read_artifact(inputs / "dropped", "dropped_prompts")
    metrics = json.loads((inputs / "prompts.json").read_text())
    assert prompts.height == metrics["kept"] == 6
    # the metrics count exactly the dropped rows, by reason
    assert metrics["dropped"] == dict(Counter(dropped["reason"].to_list()))
    assert metrics["generated"] == prompts.height + dropped.height
    assert {"too_short", "over_quota"} <= set(dropped["reason"])
    assert set(dropped["iteration"]) == {"m2"} and dropped["request_id"].is_unique().all()
    assert dropped["fewshot_ids"].list.len().min() >= 6  # the paper's 6 seed examples, at least
    # too short: the text as cleaned, under min_words; over the quota: a prompt that passed
    short = dropped.filter(reason="too_short")["text"].str.split(" ").list.len()
    assert short.max() < 7
    over = dropped.filter(reason="over_quota")["text"].str.split(" ").list.len()
    assert over.min() >= 7
    # one build: the same fingerprint and lineage on both
    kept, lost = read_manifest(inputs / "prompts"), read_manifest(inputs / "dropped")
    assert kept["fingerprint"] == lost["fingerprint"]
    assert kept["lineage"] == lost["lineage"] == {"iteration": "m2"}


def test_prompts_and_dropped_are_replaced_together_or_not_at_all(inputs):
    assert prompts_stage(inputs).returncode == 0
    before = read_manifest(inputs / "prompts")
    (inputs / "a-file").write_text("not a folder")
    # another build (n_keep 5) whose dropped generations cannot be written
    result = prompts_stage(inputs, keep=5, dropped="a-file/dropped")
    assert result.returncode != 0
    assert "a-file" in result.stderr
    assert read_manifest(inputs / "prompts") == before
    assert read_artifact(inputs / "prompts", "prompts").height == 6
