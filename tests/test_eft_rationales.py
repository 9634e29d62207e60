"""EFT with model rationales (`seed.eft_mode: model_rationales`): the keep rule, the targets
the teacher's text becomes, and the seed stage with a teacher that is a local model (the tiny
random model, and the fake engine) or an endpoint (the test double of tests/judge_server.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest

from srlm.core.artifacts import read_artifact, read_manifest
from srlm.loop.eft_rationales import (
    group_verdict,
    keep_agreeing,
    pairwise_agreement,
    rationale,
    teacher_requests,
)
from srlm.loop.judge_prompt import parse_score, render_judge_prompt
from srlm.runtime.requests import Completion
from srlm.runtime.shards import request_seed
from srlm.sources.seed_sets import EmptySeedSetError
from tests.helpers import ROOT, eft_frame, stage_module
from tests.judge_server import JudgeServer, judgment

SEED_DATA = ROOT / "srlm" / "seed_data"
KEY = "sk-teacher-never-written-8812"
STAGE = stage_module("seed")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Relevant and complete.\nScore: 4", ("Relevant and complete.\nScore: 4", 4)),
        ("Fine. **Score:** 3/5, since it helps.", ("Fine. **Score:** 3", 3)),
        ("Good: Score: **5** out of 5", ("Good: Score: **5**", 5)),
        ("Score: 2.0", ("Score: 2.0", 2)),
        ("Score: 3.5", "not_whole"),
        ("It is helpful but the judgment was cut", "unparsed"),
        ("Score: 4 ... Score: unclear", "unparsed"),
    ],
)
def test_a_rationale_ends_at_its_score(text, expected):
    assert rationale(text) == expected
    if isinstance(expected, tuple):  # the target reads back as the score it was kept for
        assert parse_score(expected[0]) == expected[1]


@pytest.mark.parametrize(
    "ranks, scores, verdict",
    [
        ([0, 1, 2], [5, 3, 1], None),
        ([2, 0, 1], [1, 4, 2], None),  # the order of the rows does not matter
        ([0, 1, 2], [5, 5, 1], "tie"),
        ([0, 1, 2], [5, 1, 3], "misordered"),
        ([0, 1, 2], [5, 5, 5], "tie"),
        ([0, 1, 2], [4, 4, 5], "misordered"),  # a reversal outranks a tie
        ([0, 0, 1], [3, 5, 2], None),  # equal human ranks may score anything
        ([0, 0, 1], [3, 5, 4], "misordered"),
        ([1, 1], [4, 2], "single_rank"),
        ([0], [4], "single_rank"),
    ],
)
def test_a_group_is_kept_only_when_its_scores_order_it_as_the_humans_do(ranks, scores, verdict):
    assert group_verdict(ranks, scores) == verdict


def test_pairwise_agreement_counts_only_pairs_of_different_ranks_with_both_scores():
    assert pairwise_agreement([0, 1, 2], [5, 3, 4]) == (2, 3)
    assert pairwise_agreement([0, 0, 1], [5, None, 4]) == (1, 1)
    assert pairwise_agreement([0, 1], [None, 4]) == (0, 0)


def completions(texts: dict[str, str]) -> list[Completion]:
    return [Completion(eid, 0, text, len(text.split()), "stop") for eid, text in texts.items()]


def test_keep_agreeing_replaces_targets_and_counts_every_drop():
    eft = pl.concat(
        [
            eft_frame(3, group_id=["kept"] * 3, example_id=["k0", "k1", "k2"]),
            eft_frame(2, group_id=["tied"] * 2, example_id=["t0", "t1"]),
            eft_frame(2, group_id=["reversed"] * 2, example_id=["r0", "r1"]),
            eft_frame(2, group_id=["cut"] * 2, example_id=["c0", "c1"]),
            eft_frame(2, group_id=["half"] * 2, example_id=["h0", "h1"]),
        ]
    )
    texts = {
        "k0": "Excellent.\nScore: 5",
        "k1": "Partly.\nScore: 2",
        "k2": "No.\nScore: 0\n\nThe end.",
        "t0": "Score: 3",
        "t1": "Score: 3",
        "r0": "Score: 1",
        "r1": "Score: 4",
        "c0": "Score: 5",
        "c1": "This response is",
        "h0": "Score: 4.5",
        "h1": "Score: 1",
    }
    kept, stats = keep_agreeing(eft, completions(texts))
    assert kept["example_id"].to_list() == ["k0", "k1", "k2"]
    assert kept["judge_target"].to_list() == [
        "Excellent.\nScore: 5",
        "Partly.\nScore: 2",
        "No.\nScore: 0",
    ]
    assert kept["target_score"].to_list() == [5, 2, 0]
    assert kept.columns == eft.columns and kept["human_rank"].to_list() == [0, 1, 2]
    assert stats["dropped_groups"] == {
        "unparsed": 1,
        "not_whole": 1,
        "misordered": 1,
        "tie": 1,
        "single_rank": 0,
    }
    assert (stats["groups"], stats["replies"]) == (5, 11)
    assert (stats["kept_groups"], stats["kept_replies"]) == (1, 3)
    assert stats["unparsed_replies"] == 2
    # the teacher's own accuracy: k (3 of 3), t (0 of 1), r (0 of 1), h (1.0 vs 1: skipped)
    assert (stats["ordered_pairs"], stats["pairwise_agreement"]) == (5, 0.6)
    assert stats["kept_scores"] == {"0": 1, "1": 0, "2": 1, "3": 0, "4": 0, "5": 1}


def test_a_missing_judgment_is_an_error_not_a_drop():
    with pytest.raises(ValueError, match="no judgment for 1 EFT examples"):
        keep_agreeing(eft_frame(2), completions({"e0": "Score: 5"}))


def test_teacher_requests_are_the_judge_prompts_seeded_per_example():
    from srlm.core.params import TeacherParams

    cfg = TeacherParams(model="m", temperature=0.3, max_new_tokens=99, random_seed=7)
    requests = teacher_requests(eft_frame(2, judge_input=["judge a", "judge b"]), cfg)
    assert [r.messages for r in requests] == [(("user", "judge a"),), (("user", "judge b"),)]
    assert {(r.n, r.temperature, r.max_new_tokens) for r in requests} == {(1, 0.3, 99)}
    assert requests[1].seed == request_seed(7, "teacher", "e1")


def seed_args(
    tmp_path: Path, settings: dict, eft_size=24, mode="model_rationales"
) -> tuple[list[str], Path]:
    tmp_path.mkdir(exist_ok=True)
    params = tmp_path / "params.yaml"
    params.write_text(
        json.dumps(
            {
                "seed": {
                    "ift_size": 4,
                    "eft_size": eft_size,
                    "eft_eval_size": 6,
                    "eft_mode": mode,
                },
                **settings,
            }
        )
    )
    out = tmp_path / "seed"
    argv = ["--params", str(params), "--source", str(SEED_DATA / "train.trees.jsonl")]
    argv += ["--eval-source", str(SEED_DATA / "eval.trees.jsonl")]
    argv += ["--ift", str(out / "ift"), "--eft", str(out / "eft")]
    argv += ["--eft-eval", str(out / "eft_eval"), "--metrics", str(out / "seed.json")]
    return argv, out


def run_seed(monkeypatch, argv):
    monkeypatch.setattr(sys, "argv", ["seed.py", *argv])
    STAGE.main()


def human_eft(tmp_path, monkeypatch, eft_size=24) -> pl.DataFrame:
    """The EFT set the same params build with human labels (what the teacher is shown)."""
    argv, out = seed_args(tmp_path / "human", {}, eft_size, mode="human_labels")
    run_seed(monkeypatch, argv)
    return read_artifact(out / "eft", "seed_eft")


def test_seed_stage_with_a_local_teacher_keeps_the_groups_it_orders(tmp_path, monkeypatch):
    """The fake engine as the teacher (hash-derived `Score: N`): the kept groups are exactly
    those whose scores order the human ranks, the metrics count the rest, and the fingerprint
    is not the human-label set's."""
    human = human_eft(tmp_path, monkeypatch)
    # a model folder the fake engine loads nothing from; named relative to the working
    # directory, because the fake engine's scores hash the name, and a fixed name fixes them
    monkeypatch.chdir(tmp_path)
    teacher = Path("teacher")
    teacher.mkdir()
    (teacher / "config.json").write_text('{"model_type": "llama"}')
    settings = {"engine": {"backend": "fake"}, "teacher": {"model": str(teacher)}}
    argv, out = seed_args(tmp_path, settings)
    run_seed(monkeypatch, argv)
    eft = read_artifact(out / "eft", "seed_eft")
    metrics = json.loads((out / "seed.json").read_text())
    stats = metrics["eft_rationales"]
    assert stats["teacher"] == str(teacher)
    assert (stats["groups"], stats["replies"]) == (human["group_id"].n_unique(), human.height)
    assert 0 < stats["kept_groups"] < stats["groups"]
    assert sum(stats["dropped_groups"].values()) == stats["groups"] - stats["kept_groups"]
    assert metrics["eft"] == eft.height == stats["kept_replies"]
    for (_,), group in eft.group_by(["group_id"]):
        assert group_verdict(list(group["human_rank"]), list(group["target_score"])) is None
        assert group["example_id"].is_in(human["example_id"].to_list()).all()
    assert all(parse_score(t) == s for t, s in eft.select("judge_target", "target_score").rows())
    assert (
        read_manifest(out / "eft")["fingerprint"]
        != read_manifest(tmp_path / "human" / "seed" / "eft")["fingerprint"]
    )


def test_the_tiny_random_model_as_teacher_agrees_with_nothing(
    tmp_path, monkeypatch, tiny_model_dir
):
    """A real model through the transformers engine: the random 2-layer model writes no score,
    so every group is dropped as unparsed and the stage says so, naming the counts; nothing
    is written."""
    settings = {
        "engine": {"backend": "transformers", "precision": "fp32"},
        "teacher": {"model": str(tiny_model_dir), "max_new_tokens": 8},
    }
    argv, out = seed_args(tmp_path, settings, eft_size=6)
    with pytest.raises(EmptySeedSetError, match=r"ordered none of the \d+ EFT groups .*unparsed"):
        run_seed(monkeypatch, argv)
    assert not out.exists() or not any(out.iterdir())


def test_seed_stage_with_a_teacher_endpoint(tmp_path, monkeypatch):
    """The teacher on an OpenAI-compatible server: one request per EFT reply with the paper's
    judge prompt verbatim, one sample, no logprobs asked, the key from the environment only;
    the kept groups follow the server's scores."""
    double = JudgeServer(echo=KEY)
    url = double.start()
    try:
        human = human_eft(tmp_path, monkeypatch, eft_size=80)
        settings = {
            "teacher": {
                "endpoint": url,
                "endpoint_model": "teacher-70b",
                "api_key_env": "TEST_TEACHER_KEY",
                "concurrency": 3,
            }
        }
        argv, out = seed_args(tmp_path, settings, eft_size=80)
        monkeypatch.setenv("TEST_TEACHER_KEY", KEY)
        run_seed(monkeypatch, argv)
    finally:
        double.stop()
    bodies = double.bodies()
    assert len(bodies) == human.height
    prompts = {row["judge_input"] for row in human.iter_rows(named=True)}
    assert {b["messages"][0]["content"] for b in bodies} == prompts
    assert prompts == {
        render_judge_prompt(p, r) for p, r in human.select("prompt", "response").rows()
    }
    assert all(b.get("n", 1) == 1 and "logprobs" not in b and b["temperature"] == 0 for b in bodies)
    # what the server scored, group by group, decides what is kept
    score_of = {eid: judgment(request_seed(0, "teacher", eid), 0) for eid in human["example_id"]}
    expected = [
        eid
        for (_,), group in human.group_by(["group_id"], maintain_order=True)
        if group_verdict(list(group["human_rank"]), [score_of[e] for e in group["example_id"]])
        is None
        for eid in group["example_id"]
    ]
    eft = read_artifact(out / "eft", "seed_eft")
    assert sorted(eft["example_id"]) == sorted(expected) and expected
    metrics = (out / "seed.json").read_text()
    assert json.loads(metrics)["eft_rationales"]["teacher"] == f"{url.rstrip('/')}#teacher-70b"
    for path in out.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
