"""Stage `judgments@<it>` with `judge.endpoint`: the loop's judge on an OpenAI-compatible
server (the test double of tests/judge_server.py), end to end through the stage script."""

from __future__ import annotations

import json
import sys

import polars as pl
import pytest

from srlm.core.artifacts import read_artifact, read_manifest, write_artifact
from srlm.core.lineage import lineage_meta
from srlm.engines.http_json import EndpointError
from srlm.runtime.shards import partial_dir, request_seed
from tests.helpers import run_stage, stage_module
from tests.judge_server import JudgeServer, judgment, score_probs

KEY = "sk-test-never-written-4567"
STAGE = stage_module("judgments")


@pytest.fixture()
def server():
    double = JudgeServer(echo=KEY)
    yield double, double.start()
    double.stop()


def candidates(tmp_path, n=6):
    frame = pl.DataFrame(
        {
            "prompt_id": [f"p{i // 2}" for i in range(n)],
            "candidate_id": [f"c{i}" for i in range(n)],
            "prompt": [f"Question {i // 2}?" for i in range(n)],
            "response": [f"Answer {i}." for i in range(n)],
            "model": ["m1"] * n,
            "seed": list(range(n)),
            "n_tokens": [3] * n,
            "finish_reason": ["stop"] * n,
        }
    )
    write_artifact(frame, tmp_path / "candidates", "candidates", "fp", lineage_meta("m2"))
    return tmp_path / "candidates"


def setup(tmp_path, url, name="run", **judge):
    """A params file for `url` (the fake engine answers the agreement sample) and the stage's
    arguments, writing under `tmp_path / name`."""
    settings = {
        "endpoint": url,
        "endpoint_model": "judge-70b",
        "api_key_env": "TEST_JUDGE_KEY",
        "shard_size": 2,
        "concurrency": 2,
        "retry_backoff_s": 0.01,
        "agreement_sample": 2,
        **judge,
    }
    params = tmp_path / f"{name}.yaml"
    params.write_text(json.dumps({"engine": {"backend": "fake"}, "judge": settings}))
    out = tmp_path / name
    args = ["--params", str(params), "--iteration", "m2", "--model", str(tmp_path / "m1")]
    args += ["--candidates", str(candidates(tmp_path)), "--out", str(out / "judgments")]
    args += ["--scores", str(out / "scores"), "--metrics", str(out / "metrics.json")]
    return args, out


def run(monkeypatch, args):
    monkeypatch.setenv("TEST_JUDGE_KEY", KEY)
    monkeypatch.setattr(sys, "argv", ["judgments.py", *args])
    STAGE.main()


def test_judgments_through_an_endpoint(tmp_path, server, monkeypatch):
    double, url = server
    args, out = setup(tmp_path, url)
    run(monkeypatch, args)
    judged = read_artifact(out / "judgments", "judgments")
    assert judged.height == 18 and judged["score"].null_count() == 0
    for row in judged.iter_rows(named=True):
        score = judgment(request_seed(0, "m2", row["candidate_id"]), row["sample"])
        assert row["score"] == score
        assert row["score_probs"] == pytest.approx(score_probs(score))
    scores = read_artifact(out / "scores", "candidate_scores")
    assert scores.height == 6 and scores["mean_score"].null_count() == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["judge_model"] == f"{url}#judge-70b"
    assert metrics["endpoint"] == {
        "requests": 6,
        "retries": 0,
        "prompt_tokens": 600,
        "completion_tokens": 6 * 21,
        "replies_without_usage": 0,
        "samples_without_score_probs": 0,
    }
    assert metrics["self_judge_agreement"]["n"] == 2  # the fake engine as the model's own
    assert len(double.seen) == 6 and double.max_in_flight <= 2
    # the key went to the server, and into no file
    assert {auth for _, auth, _ in double.seen} == {f"Bearer {KEY}"}
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path


def test_the_endpoint_is_identity_and_how_requests_travel_is_not(tmp_path, server, monkeypatch):
    _, url = server
    fingerprints = {}
    for name, judge in {
        "a": {},
        "b": {"concurrency": 1, "timeout_s": 30, "retry_attempts": 2, "api_key_env": "X"},
        "c": {"endpoint_model": "judge-8b"},
        "d": {"endpoint": url.replace("127.0.0.1", "localhost")},
    }.items():
        args, out = setup(tmp_path, url, name, **judge)
        run(monkeypatch, args)
        fingerprints[name] = read_manifest(out / "judgments")["fingerprint"]
    assert fingerprints["a"] == fingerprints["b"]
    assert len({fingerprints["a"], fingerprints["c"], fingerprints["d"]}) == 3


def test_without_logprobs_the_nulls_are_counted(tmp_path, monkeypatch):
    double = JudgeServer(logprobs=False)
    url = double.start()
    try:
        args, out = setup(tmp_path, url, scoring="expected")
        run(monkeypatch, args)
    finally:
        double.stop()
    judged = read_artifact(out / "judgments", "judgments")
    assert judged["score"].null_count() == 0
    assert judged["score_probs"].null_count() == judged["expected_score"].null_count() == 18
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["endpoint"]["samples_without_score_probs"] == 18
    assert metrics["mean_expected_score"] is None and metrics["candidates_unscored"] == 6


def test_an_interrupted_run_resumes_by_shard_without_asking_again(tmp_path, monkeypatch):
    double = JudgeServer()
    url = double.start()
    try:
        args, out = setup(tmp_path, url, retry_attempts=2)
        double.fail_from = 4  # shards 0 and 1 (2 requests each) answered, then HTTP 500
        with pytest.raises(EndpointError, match=r"HTTP 500: .*gave up after 2 tries"):
            run(monkeypatch, args)
        assert not (out / "judgments").exists()
        done = sorted(p.name for p in partial_dir(out / "judgments").glob("part-*.parquet"))
        assert done == ["part-00000.parquet", "part-00001.parquet"]
        double.fail_from, asked = None, len(double.seen)
        run(monkeypatch, args)
        assert len(double.seen) - asked == 2  # shard 2 only
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["endpoint"]["requests"] == 2
        clean_args, clean = setup(tmp_path, url, "clean")
        run(monkeypatch, clean_args)
    finally:
        double.stop()
    for name in ("part-00000.parquet", "part-00002.parquet", "_manifest.json"):
        assert (out / "judgments" / name).read_bytes() == (clean / "judgments" / name).read_bytes()


def test_a_failing_endpoint_is_one_error_line_without_the_key(tmp_path, server, monkeypatch):
    double, url = server
    double.fail_from = 0
    args, out = setup(tmp_path, url, retry_attempts=2, concurrency=1)
    monkeypatch.setenv("TEST_JUDGE_KEY", KEY)
    result = run_stage("judgments", *args)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f'error: judge endpoint {url}: HTTP 500: {{"error": "busy ***"}} '
        "(gave up after 2 tries: judge.retry_attempts)"
    )
    assert KEY not in result.stderr + result.stdout
    assert not (out / "judgments").exists()


def test_anchors_are_judged_by_the_endpoint_too(tmp_path, server, monkeypatch):
    """pairs.mode anchored, an iteration after m2: M1's new answers are judged like the
    iteration's candidates, by the endpoint (the fake engine writes M1's answers)."""
    double, url = server
    args, _ = setup(tmp_path, url)
    params = json.loads(open(args[1]).read())
    params["pairs"] = {"mode": "anchored"}
    (tmp_path / "anchored.yaml").write_text(json.dumps(params))
    prompts = pl.DataFrame(
        {
            "prompt_id": ["p0", "p1"],
            "prompt": ["Question 0?", "Question 1?"],
            "iteration": ["m2"] * 2,
            "generator": ["m1"] * 2,
            "fewshot_ids": [[], []],
        },
        schema_overrides={"fewshot_ids": pl.List(pl.Utf8)},
    )
    write_artifact(prompts, tmp_path / "prompts", "prompts", "fp", lineage_meta("m2"))
    run(monkeypatch, args)  # the iteration's own judgments and scores, through the endpoint
    asked = len(double.seen)
    for name in ("m1", "m1-other"):  # model folders the fake engine loads nothing from
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(f'{{"name": "{name}"}}')
    anchors = stage_module("anchors")
    monkeypatch.setattr(
        sys,
        "argv",
        ["anchors.py", "--params", str(tmp_path / "anchored.yaml"), "--iteration", "m2"]
        + ["--anchor-model", str(tmp_path / "m1"), "--model", str(tmp_path / "m1-other")]
        + ["--prompts", str(tmp_path / "prompts"), "--candidates", str(tmp_path / "candidates")]
        + ["--scores", str(tmp_path / "run" / "scores"), "--out", str(tmp_path / "anchors")],
    )
    anchors.main()
    built = read_artifact(tmp_path / "anchors", "anchors")
    new = len(double.seen) - asked
    assert new == built.height > 0 and built["mean_score"].null_count() == 0
    seeds = {body["seed"] for body in double.bodies()[asked:]}
    assert seeds == {request_seed(0, "anchors:m2", cid) for cid in built["candidate_id"]}
