"""The loop's judge, the EFT teacher and the evaluator against a real vLLM server (vLLM's CPU
build on 127.0.0.1, started and stopped here), serving the scripted judge of
tests/vllm_server.py, whose every probability is known.

Seeded sampling is the same stream in vLLM's server and in its in-process engine (each request
carries its seed), so the stages' artifacts through the server equal those through
`engine.backend: vllm` on the same model: scores exactly, probabilities to float precision
(the server reads them from `top_logprobs`, the engine asks for the score tokens'
log-probabilities directly). Without vLLM installed every test here is skipped, with the reason.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import yaml

from srlm.core.artifacts import read_artifact
from srlm.core.errors import SrlmError
from srlm.core.params import EngineParams
from srlm.engines.endpoint import EndpointEvaluator
from srlm.engines.vllm_server import LocalVllmServer
from srlm.loop.eft_rationales import group_verdict
from srlm.runtime.requests import user_request
from tests.helpers import requires_vllm, run_tool, stage_module
from tests.test_eft_rationales import human_eft, run_seed, seed_args
from tests.test_judgments_endpoint import candidates
from tests.vllm_server import (
    DIGITS,
    LETTER_A,
    LETTER_B,
    NEWLINE,
    SPACE,
    next_token_probabilities,
    save_scripted_judge,
)

pytestmark = [pytest.mark.integration, pytest.mark.vllm, requires_vllm]

NAME = "scripted-judge"
JUDGMENTS = stage_module("judgments")
# float32 logits of ~20 carry ~2e-6 of rounding, which moves a probability by that much
# relative; 1e-4 leaves room for the different kernels of two engines, not for another value
REL = 1e-4
ENGINE = {"backend": "vllm", "precision": "fp32", "kv_cache_gib": 0.25}  # server and in-process


@pytest.fixture(scope="module")
def scripted_judge(tmp_path_factory, smollm2_tokenizer):
    return save_scripted_judge(tmp_path_factory.mktemp("scripted-judge"), smollm2_tokenizer)


@pytest.fixture(scope="module")
def server(scripted_judge, tmp_path_factory):
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    with LocalVllmServer(scripted_judge, NAME, EngineParams(**ENGINE), log) as running:
        yield running


def vocab(model_dir) -> int:
    return json.loads((model_dir / "config.json").read_text())["vocab_size"]


def digit_probabilities(model_dir) -> np.ndarray:
    """P("0") .. P("5") after "Score: ", from the scripted weights' arithmetic."""
    return next_token_probabilities(SPACE, vocab(model_dir))[list(DIGITS)]


def judge_stage(tmp_path, monkeypatch, name: str, judge: dict, model, backend="fake"):
    """judgments@m2 on six candidates with `judge` settings, `model` the iteration's own (the
    judge when `judge` names none); its output folder."""
    settings = {"shard_size": 4, "agreement_sample": 2, "scoring": "expected", **judge}
    params = tmp_path / f"{name}.yaml"
    engine = {**ENGINE, "backend": backend}
    params.write_text(json.dumps({"engine": engine, "judge": settings}))
    out = tmp_path / name
    args = ["--params", str(params), "--iteration", "m2", "--model", str(model)]
    args += ["--candidates", str(candidates(tmp_path)), "--out", str(out / "judgments")]
    args += ["--scores", str(out / "scores"), "--metrics", str(out / "metrics.json")]
    monkeypatch.setattr(sys, "argv", ["judgments.py", *args])
    JUDGMENTS.main()
    return out


def test_the_judge_on_the_server_reads_the_scored_probabilities_exactly(
    tmp_path, monkeypatch, server, scripted_judge
):
    on_server = {"endpoint": server.url, "endpoint_model": NAME}
    out = judge_stage(tmp_path, monkeypatch, "run", on_server, scripted_judge)
    judged = read_artifact(out / "judgments", "judgments")
    assert judged.height == 18 and judged["score"].null_count() == 0
    expected = digit_probabilities(scripted_judge)
    for row in judged.iter_rows(named=True):
        assert row["judge_text"] == f"Score: {int(row['score'])}"
        assert row["score_probs"] == pytest.approx(expected.tolist(), rel=REL)
        mean = float(np.dot(np.arange(6), expected) / expected.sum())
        assert row["expected_score"] == pytest.approx(mean, rel=REL)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["judge_model"] == f"{server.url}#{NAME}"
    usage = metrics["endpoint"]
    assert (usage["requests"], usage["retries"], usage["samples_without_score_probs"]) == (6, 0, 0)
    # "Score", ":", " ", the digit and <|im_end|>: five tokens a sample, as the server counts
    assert usage["completion_tokens"] == 18 * 5 and usage["prompt_tokens"] > 6 * 300


def test_the_server_and_the_in_process_engine_write_the_same_judgments(
    tmp_path, monkeypatch, server, scripted_judge
):
    """The same seeds sample the same scores through the server as in vLLM in this process."""
    on_server = {"endpoint": server.url, "endpoint_model": NAME}
    remote = judge_stage(tmp_path, monkeypatch, "remote", on_server, scripted_judge)
    local = judge_stage(tmp_path, monkeypatch, "local", {}, scripted_judge, backend="vllm")
    a = read_artifact(remote / "judgments", "judgments").sort("candidate_id", "sample")
    b = read_artifact(local / "judgments", "judgments").sort("candidate_id", "sample")
    assert a["score"].to_list() == b["score"].to_list()
    assert len(set(a["score"].to_list())) > 1  # the scores were sampled, not all the mode
    assert a["judge_text"].to_list() == b["judge_text"].to_list()
    for x, y in zip(a["score_probs"].to_list(), b["score_probs"].to_list(), strict=True):
        assert x == pytest.approx(y, rel=REL)


def test_the_evaluator_reads_both_letters_from_the_server(server, scripted_judge):
    evaluator = EndpointEvaluator(server.url, NAME)
    request = user_request("c0", "Which response is better, A or B?")
    [probs] = evaluator.option_probabilities([request], ["unused"], [" A", " B"])
    first = next_token_probabilities(NEWLINE, vocab(scripted_judge))
    assert probs == pytest.approx([first[LETTER_A], first[LETTER_B]], rel=REL)


def test_the_eft_teacher_on_the_server_equals_the_local_one(
    tmp_path, monkeypatch, server, scripted_judge
):
    """Sampled teacher scores keep the groups they happen to order like the humans; the
    server and the in-process engine keep the same ones."""
    human = human_eft(tmp_path, monkeypatch, eft_size=80)
    teacher = {"temperature": 1.0, "random_seed": 0}
    built = {}
    for name, settings in {
        "remote": {"teacher": {**teacher, "endpoint": server.url, "endpoint_model": NAME}},
        "local": {
            "teacher": {**teacher, "model": str(scripted_judge)},
            "engine": ENGINE,
        },
    }.items():
        argv, out = seed_args(tmp_path / name, settings, eft_size=80)
        run_seed(monkeypatch, argv)
        built[name] = (
            read_artifact(out / "eft", "seed_eft"),
            json.loads((out / "seed.json").read_text()),
        )
    (remote, stats), (local, _) = built["remote"], built["local"]
    rationales = stats["eft_rationales"]
    assert rationales["teacher"] == f"{server.url}#{NAME}"
    assert rationales["groups"] == human["group_id"].n_unique()
    assert 0 < rationales["kept_groups"] < rationales["groups"]
    for (_,), group in remote.group_by(["group_id"]):
        assert group_verdict(list(group["human_rank"]), list(group["target_score"])) is None
    assert remote.sort("example_id").equals(local.sort("example_id"))
    # the server's own count: a reply without logprobs lists no tokens
    assert rationales["generated_tokens"] == rationales["replies"] * 5


def test_a_server_that_cannot_start_is_one_error_with_its_log(tmp_path):
    """A model folder vLLM cannot load: an SrlmError with the server's log, and no process
    of the server left behind."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    server = LocalVllmServer(broken, NAME, EngineParams(**ENGINE), tmp_path / "server.log")
    with pytest.raises(SrlmError, match="vLLM server exited") as failure:
        with server:
            pass
    assert str(failure.value).count("\n") > 1  # the log's tail follows
    assert server.process.poll() is not None


def test_dvc_repro_of_an_iteration_with_the_judge_on_the_server(tmp_path, server, fake_pipeline):
    """The built fake pipeline with its judge moved to the server: `dvc repro dpo@m2` reruns
    the iteration from its judgments, which the server wrote, to a DPO-trained M2."""
    project = fake_pipeline.copy(tmp_path / "project")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["judge"].update({"endpoint": server.url, "endpoint_model": NAME})
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stdout = run_tool(project, "dvc", "repro", "dpo@m2").stdout
    for stage in ("judgments@m2", "pairs@m2", "dpo@m2"):
        assert f"Running stage '{stage}'" in stdout
    assert "Running stage 'candidates@m2'" not in stdout  # only the judge changed
    judged = json.loads((project / "metrics" / "m2" / "judgments.json").read_text())
    assert judged["judge_model"] == f"{server.url}#{NAME}"
    assert judged["parse_rate"] == 1.0 and judged["endpoint"]["retries"] == 0
    scores = read_artifact(project / "data" / "m2" / "judgments", "judgments")
    assert scores["score"].is_between(0, 5).all()
    pairs = read_artifact(project / "data" / "m2" / "pairs", "pairs")
    assert pairs.height > 0 and (pairs["chosen_score"] > pairs["rejected_score"]).all()
    dpo = json.loads((project / "metrics" / "m2" / "dpo.json").read_text())
    assert dpo["pairs"] == pairs.height
    status = run_tool(project, "dvc", "status", "dpo@m2").stdout
    assert "changed" not in status
